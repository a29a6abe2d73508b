"""Small helpers with no domain knowledge (a leaf: importable by every layer)."""
