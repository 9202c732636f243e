"""The command layer: each command's arguments and output. Only here (and in cli.py) are errors
turned into words; the feature modules below raise and never print."""
