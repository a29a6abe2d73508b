"""Application services: one function per use case; the only API drivers call."""
