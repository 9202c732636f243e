"""`make soak`: a fault suite on loopback counting lost and duplicated alerts (docs/soak.md)."""
