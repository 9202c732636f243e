"""The dYdX v4 Indexer source: connections, subscriptions, parsing, normalizing, REST fallback."""
