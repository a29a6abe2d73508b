"""Chart tests run without a screen; shared bar factories."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.synthetic import generate_bars


@pytest.fixture
def bars_5k() -> BarSeries:
    """5,000 deterministic synthetic 1-minute bars."""
    return generate_bars("TEST", "1m", 5_000, 3)
