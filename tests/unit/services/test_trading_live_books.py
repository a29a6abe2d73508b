"""The stored books of a live session are rebuilt in its quote currency (USDT), not KRW.

Fills on Binance carry their fee in USDT; rebuilding such a session's portfolio in KRW
raised "fee in USDT but the portfolio counts KRW" from the daily report (printed at the
end of every ``stom trade``) and from the restart recovery of an interrupted live session.
"""

from __future__ import annotations

from decimal import Decimal

from stom_desktop.bootstrap import build_app
from stom_desktop.persistence import OrderRepository, SessionRepository
from stom_desktop.services.trading_service import TradingService
from stom_desktop.services.trading_spec import SessionSpec


def test_daily_report_books_a_live_session_in_its_quote_currency() -> None:
    app = build_app()
    try:
        spec = SessionSpec(
            name="live",
            strategy="sma_cross",
            symbols=("BTC/USDT",),
            mode="live",
            exchange="binance",
            account="acc",
            initial_cash=Decimal(1000),
        )
        record = SessionRepository(app.database).create(
            spec.name,
            spec.strategy,
            spec.mode,
            list(spec.symbols),
            config={"spec": spec.to_dict()},
            status="stopped",
        )
        journal = OrderRepository(app.database)
        journal.record_intent(
            "stom-s1-000001", "BTC/USDT", "buy", "market", "0.01", session_id=record.id
        )
        journal.transition("stom-s1-000001", "submitted")
        journal.add_fill(
            "stom-s1-000001",
            "0.01",
            "30000",
            fee="0.3",
            fee_currency="USDT",
            venue_fill_id="binance:1",
            to_status="filled",
        )
        service = TradingService(app.settings, app.database, app.strategies, app.paths)
        (line,) = service.daily_report().sessions
    finally:
        app.close()
    assert line.fees == Decimal("0.3")
    assert line.open_positions == {"BTC/USDT": Decimal("0.01")}
