"""Replicas sharing the work: shards of subaccounts, leases on them, one elected leader."""
