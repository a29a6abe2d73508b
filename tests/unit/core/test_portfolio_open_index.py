"""Portfolio.open_positions (kept incrementally) always equals a scan of every position."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from stom_desktop.core.enums import Side
from stom_desktop.core.fills import Fill
from stom_desktop.core.portfolio import Portfolio

T0 = datetime(2026, 1, 5, tzinfo=UTC)
trades = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C"]), st.booleans(), st.integers(1, 5),
              st.integers(90, 110)),
    max_size=60,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(trades)
def test_open_positions_equal_a_full_scan(steps: list[tuple[str, bool, int, int]]) -> None:
    portfolio = Portfolio(Decimal(1_000_000))
    for i, (symbol, buy, qty, price) in enumerate(steps):
        fill = Fill(
            fill_id=f"f{i}", client_order_id=f"o{i}", symbol=symbol,
            side=Side.BUY if buy else Side.SELL, quantity=Decimal(qty), price=Decimal(price),
            fee=Decimal(0), fee_currency="KRW", ts=T0,
        )  # fmt: skip
        assert portfolio.apply_fill(fill)
        scan = {s: p for s, p in portfolio.positions.items() if not p.is_flat}
        assert portfolio.open_positions() == scan
