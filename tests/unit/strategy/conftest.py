"""Fixtures for the strategy tests."""

from __future__ import annotations

import pytest
from strategy_factories import make_bars

from stom_desktop.core.bars import BarSeries


@pytest.fixture
def bars() -> BarSeries:
    """500 random-walk one-minute bars."""
    return make_bars()
