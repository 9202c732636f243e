"""The notifier types that ship with alertbot, each a pluggy plugin registering its class."""
