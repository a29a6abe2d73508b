"""Market data feed adapters."""
