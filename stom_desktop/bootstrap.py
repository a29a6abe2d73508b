"""Composition root: settings -> database -> adapters -> services, built once per process."""
