"""Fast vectorised/compiled backtester, metrics and optimisation."""
