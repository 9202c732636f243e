"""The neutral base every part builds on: the model that crosses parts and shared utilities.

Nothing here imports any other part of alertbot (tests/test_architecture.py checks it).
"""
