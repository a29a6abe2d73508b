"""Implementations of the domain ports: brokers, feeds, notifiers, files, secret store."""
