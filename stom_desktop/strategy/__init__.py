"""Plug-in API for strategies: base class, parameters, indicators, loader."""
