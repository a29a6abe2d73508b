"""The reconciliation line of the session/daily reports and the adoption's journal shape."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

from stom_desktop.cli.render import out
from stom_desktop.cli.trade_view import print_session_report
from stom_desktop.persistence import OrderRepository, SessionRepository, create_database
from stom_desktop.services.trading_report import session_markdown
from stom_desktop.services.trading_spec import SessionReport
from stom_desktop.services.venue_adoption import (
    adoption_fill,
    is_adoption,
    journal_adoption,
    reconciliation_note,
)
from stom_desktop.services.venue_reconcile import (
    AssetLine,
    OrderLine,
    VenueReconciliation,
    VenueStart,
    book_quantities,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def reconciliation(*assets: AssetLine, orders: tuple[OrderLine, ...] = ()) -> VenueReconciliation:
    return VenueReconciliation("binance", "acc", "USDT", D(1000), D(0), assets, orders)


def test_note_when_the_venue_matches() -> None:
    start = VenueStart(reconciliation(AssetLine("BTC", D(0), D(0))), "halt", D(1000))
    assert reconciliation_note(start.to_dict()) == (
        "venue reconciliation at start (halt): the venue matched the journal; free USDT 1000"
    )
    assert reconciliation_note(None) is None  # a paper session stores none


def test_note_lists_differences_and_adoptions() -> None:
    report = reconciliation(
        AssetLine("BTC", D("0.5"), D(0)),
        AssetLine("ETH", D(1), D(1)),
        orders=(OrderLine("foreign", "web_1", "BTC/USDT", "buy", D(1)),),
    )
    start = VenueStart(report, "adopt", D(16000), {"BTC/USDT": (D("0.5"), D(30000))})
    assert reconciliation_note(start.to_dict()) == (
        "venue reconciliation at start (adopt): 2 difference(s): BTC venue 0.5 vs journal 0; "
        "order web_1 foreign; free USDT 1000; adopted from the venue: BTC/USDT 0.5 at 30000"
    )


def session_report(note: str | None) -> SessionReport:
    return SessionReport(
        session_id=7, name="live", strategy="manual", mode="live", symbols=("BTC/USDT",),
        state="stopped", initial_cash=D(1000), cash=D(1000), equity=D(1000),
        realized_pnl=D(0), unrealized_pnl=D(0), fees=D(0), total_pnl=D(0), return_pct=0.0,
        orders=0, fills=0, rejections=0, trades=(), win_rate=None, max_drawdown_pct=0.0,
        open_positions={}, intended_orders=0, market_start=T0, market_end=T0,
        venue_reconciliation=note,
    )  # fmt: skip


def test_session_report_shows_the_line_in_markdown_and_in_the_cli() -> None:
    note = "venue reconciliation at start (halt): the venue matched the journal; free USDT 1000"
    assert f"- {note}\n" in session_markdown(session_report(note), "Asia/Seoul")
    assert "venue reconciliation" not in session_markdown(session_report(None), "Asia/Seoul")
    with out.capture() as captured:
        print_session_report(session_report(note), "Asia/Seoul")
    assert note in " ".join(captured.get().split())


def test_adoption_journal_rows_and_the_book_reset(tmp_path: Path) -> None:
    db = create_database(f"sqlite:///{tmp_path / 'j.db'}")
    for _ in range(3):
        SessionRepository(db).create("s", "manual", "live", ["BTC/USDT"])
    repo = OrderRepository(db)
    # Session 1 bought 0.3 BTC; session 2 adopted the venue's 1.0; session 1 then sold 0.1.
    repo.record_intent("stom-s1-000001", "BTC/USDT", "buy", "market", D("0.3"), session_id=1, at=T0)
    repo.add_fill("stom-s1-000001", D("0.3"), D(30000), venue_fill_id="t1", ts=T0,
                  to_status="filled")  # fmt: skip
    fill = adoption_fill(2, "BTC/USDT", D(1), D(31000), "USDT", T0)
    journal_adoption(repo, 2, fill)
    repo.record_intent(
        "stom-s1-000002", "BTC/USDT", "sell", "market", D("0.1"), session_id=1, at=T0
    )
    repo.add_fill("stom-s1-000002", D("0.1"), D(31000), venue_fill_id="t2", ts=T0,
                  to_status="filled")  # fmt: skip
    stored = repo.by_client_id("adopt-s2-BTC/USDT")
    assert stored is not None and is_adoption(stored.client_order_id)
    assert (stored.session_id, stored.status, stored.avg_fill_price) == (2, "filled", D(31000))
    book, still_open = book_quantities(repo, [1, 2])
    assert book == {"BTC": D("0.9")} and still_open == []  # 1.0 adopted, then 0.1 sold
    short = adoption_fill(3, "BTC/USDT:USDT", D("-0.02"), D(30000), "USDT", T0)
    assert (short.side.value, short.quantity, short.fill_id) == (
        "sell", D("0.02"), "adopt:s3:BTC/USDT:USDT"
    )  # fmt: skip
