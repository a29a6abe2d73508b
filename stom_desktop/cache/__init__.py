"""Redis cache and event pub/sub with an in-process fallback."""
