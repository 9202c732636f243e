"""SQLite persistence in state_dir: the outbox and alert state share one database file."""
