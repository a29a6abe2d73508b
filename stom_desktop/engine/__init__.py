"""Live event-driven trading engine (issue 4)."""
