"""CcxtBroker on Binance USDT-M futures (``binanceusdm``) through the real ccxt client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from fake_binance_futures import FakeBinanceFutures
from fake_exchanges import Fault, RecordingListener

from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import ConfigurationError, OrderRejected, TemporaryBrokerError
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderType
from stom_desktop.persistence import BarRepository, create_database
from stom_desktop.services.download_service import DownloadService

T0 = datetime(2026, 1, 5, tzinfo=UTC)
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
ORDER = "/fapi/v1/order"


def limit(
    cid: str,
    qty: str = "0.010",
    px: str = "29000.5",
    side: Side = Side.BUY,
    tag: str | None = None,
    sym: str = BTC,
) -> Order:
    return Order(
        cid, sym, side, D(qty), created_at=T0, order_type=OrderType.LIMIT, price=D(px), tag=tag
    )


def market(
    cid: str, qty: str = "0.010", side: Side = Side.BUY, tag: str | None = None, sym: str = BTC
) -> Order:
    return Order(cid, sym, side, D(qty), created_at=T0, tag=tag)


def sent(fake: FakeBinanceFutures, cid: str) -> dict[str, str]:
    """The parameters of the order request that carried ``cid``."""
    [params] = [
        p for m, path, p in fake.requests if m == "POST" and p.get("newClientOrderId") == cid
    ]
    return params


@pytest.fixture
def broker(futures, make_broker):  # type: ignore[no-untyped-def]
    return make_broker("binanceusdm", futures.base_url, symbols=[BTC, ETH])


def test_markets_and_rules_come_from_the_futures_exchange_info(broker, futures) -> None:
    rules = broker.rules(BTC)
    assert (rules.tick_size(D(30000)), rules.amount_step) == (D("0.1"), D("0.001"))
    assert (rules.min_notional, rules.min_amount, rules.venue) == (
        D(100),
        D("0.001"),
        "binanceusdm",
    )
    assert broker.rules(ETH).min_notional == D(20)
    with pytest.raises(OrderRejected, match="perpetual") as quarterly:
        broker.rules("BTC/USDT:USDT-260327")
    assert quarterly.value.rule == "venue.market"
    with pytest.raises(OrderRejected) as spot:
        broker.rules("BTC/USDT")
    assert spot.value.rule == "venue.market"
    assert [p for _, p, _ in futures.requests] == ["/fapi/v1/exchangeInfo"]


@pytest.mark.parametrize(
    ("order", "rule"),
    [
        (limit("stom-f1-000001", px="30000.05"), "venue.tick_size"),
        (limit("stom-f1-000002", qty="0.0105"), "venue.lot"),
        (limit("stom-f1-000003", qty="0.003"), "venue.min_notional"),  # 87 < 100 USDT
    ],
)
def test_rules_refuse_before_sending(broker, futures, order: Order, rule: str) -> None:
    with pytest.raises(OrderRejected) as info:
        broker.submit(order)
    assert info.value.rule == rule
    assert futures.count("POST", ORDER) == 0


def test_limit_and_market_orders_carry_our_client_id(broker, futures) -> None:
    venue_id = broker.submit(limit("stom-f1-000010"))
    stored = futures.order_by_client("stom-f1-000010")
    assert stored is not None and str(stored["orderId"]) == venue_id
    assert (stored["price"], stored["origQty"], stored["reduceOnly"]) == ("29000.5", "0.01", False)
    assert "reduceOnly" not in sent(futures, "stom-f1-000010")
    snap = broker.fetch_order("stom-f1-000010")
    assert snap is not None and (snap.status, snap.venue_order_id) == (
        OrderStatus.SUBMITTED,
        venue_id,
    )
    assert any(p.get("origClientOrderId") == "stom-f1-000010" for _, _, p in futures.requests)
    broker.submit(market("stom-f1-000011", qty="0.005"))
    params = sent(futures, "stom-f1-000011")
    assert params["type"] == "MARKET" and params["quantity"] == "0.005" and "price" not in params
    assert broker.fetch_order("stom-f1-999999") is None


def test_fills_are_reported_by_poll_with_quantity_price_and_fee(broker, futures) -> None:
    listener = RecordingListener()
    broker.set_listener(listener)
    broker.submit(market("stom-f1-000020", qty="0.010"))
    broker.submit(limit("stom-f1-000021", qty="0.020", px="29500.0"))
    futures.fill("stom-f1-000021", "0.005")
    broker.poll()
    futures.fill("stom-f1-000021")
    broker.poll()
    broker.poll()  # nothing new: each trade is reported once
    got = [(f.client_order_id, f.quantity, f.price, f.fee, f.fee_currency) for f in listener.fills]
    assert got == [
        ("stom-f1-000020", D("0.01"), D(30000), D("0.12"), "USDT"),
        ("stom-f1-000021", D("0.005"), D(29500), D("0.059"), "USDT"),
        ("stom-f1-000021", D("0.015"), D(29500), D("0.177"), "USDT"),
    ]
    final = {u.client_order_id: u.status for u in listener.updates if u.status.is_terminal}
    assert final == {"stom-f1-000020": OrderStatus.FILLED, "stom-f1-000021": OrderStatus.FILLED}
    assert broker.positions() == {BTC: D("0.03")}


def test_submit_timeout_after_acceptance_is_found_not_resent(broker, futures) -> None:
    futures.inject("POST", ORDER, Fault(200, {}, delay_s=1.0, process=True))
    order = limit("stom-f1-000030")
    with pytest.raises(TemporaryBrokerError):
        broker.submit(order)
    snap = broker.fetch_order("stom-f1-000030")
    assert snap is not None and snap.status is OrderStatus.SUBMITTED
    assert broker.submit(order) == snap.venue_order_id  # adopted, never resent
    assert futures.count("POST", ORDER) == 1 and len(futures.orders) == 1


def test_cancel_and_open_orders(broker, futures) -> None:
    listener = RecordingListener()
    broker.set_listener(listener)
    broker.submit(limit("stom-f1-000040"))
    broker.submit(limit("stom-f1-000041", sym=ETH, qty="0.050", px="1990.00"))
    assert {o.client_order_id for o in broker.open_orders()} == {"stom-f1-000040", "stom-f1-000041"}
    broker.cancel("stom-f1-000040")
    assert futures.order_by_client("stom-f1-000040")["status"] == "CANCELED"
    broker.poll()
    assert [(u.client_order_id, u.status) for u in listener.updates if u.status.is_terminal] == [
        ("stom-f1-000040", OrderStatus.CANCELLED)
    ]
    assert [o.client_order_id for o in broker.open_orders(ETH)] == ["stom-f1-000041"]


def test_flatten_a_long_and_a_short_reduce_only(broker, futures) -> None:
    broker.submit(market("stom-f1-000050", qty="0.010", tag="entry:long"))
    broker.submit(market("stom-f1-000051", qty="0.100", side=Side.SELL, tag="entry:short", sym=ETH))
    assert broker.positions() == {BTC: D("0.01"), ETH: D("-0.1")}
    wallet = futures.wallet
    broker.submit(market("stom-f1-000052", qty="0.010", side=Side.SELL, tag="flatten"))
    broker.submit(market("stom-f1-000053", qty="0.100", tag="kill_switch", sym=ETH))
    for cid in ("stom-f1-000052", "stom-f1-000053"):
        assert sent(futures, cid)["reduceOnly"] == "true"
    assert "reduceOnly" not in sent(futures, "stom-f1-000050")
    assert broker.positions() == {}
    assert futures.wallet == wallet - D("0.12") - D("0.08")  # flat at entry: fees only


def test_closing_below_min_notional_is_allowed_and_exits_never_open(broker, futures) -> None:
    futures.set_position("BTCUSDT", "0.001", "30000")  # 30 USDT, below the 100 minimum
    with pytest.raises(OrderRejected) as opening:
        broker.submit(limit("stom-f1-000060", qty="0.001", px="29000.0", tag="entry:long"))
    assert opening.value.rule == "venue.min_notional"
    broker.submit(limit("stom-f1-000061", qty="0.001", px="31000.0", side=Side.SELL, tag="exit:tp"))
    futures.fill("stom-f1-000061")
    assert broker.positions() == {}
    with pytest.raises(OrderRejected) as flip:  # flat now: an exit may not open a short
        broker.submit(market("stom-f1-000062", qty="0.010", side=Side.SELL, tag="exit:stop"))
    assert flip.value.rule == "venue.reduce_only"
    assert futures.position("BTCUSDT") == 0


def test_amend_keeps_reduce_only(broker, futures) -> None:
    futures.set_position("BTCUSDT", "0.020", "30000")
    broker.submit(limit("stom-f1-000070", qty="0.020", px="31000.0", side=Side.SELL, tag="exit:tp"))
    broker.amend("stom-f1-000070", price=D("30900.0"))
    assert futures.order_by_client("stom-f1-000070.a1")["reduceOnly"] is True
    assert sent(futures, "stom-f1-000070.a1")["price"] == "30900"


def test_insufficient_margin_is_a_recorded_rejection(broker, futures) -> None:
    with pytest.raises(OrderRejected) as info:  # 10 BTC at 20x needs 14,500 of 10,000 USDT
        broker.submit(limit("stom-f1-000080", qty="10.000", px="29000.0"))
    assert info.value.rule == "venue.insufficient_funds"
    assert "Margin is insufficient" in info.value.reason
    assert futures.orders == {}


@pytest.mark.parametrize(
    ("code", "msg", "rule"),
    [
        (-4164, "Order's notional must be no smaller than 100", "venue.min_notional"),
        (-1111, "Precision is over the maximum defined for this asset.", "venue.precision"),
        (-4116, "ClientOrderId is duplicated.", "venue.duplicate_client_id"),
    ],
)
def test_venue_error_codes_become_named_rejections(
    broker, futures, code: int, msg: str, rule: str
) -> None:
    futures.inject("POST", ORDER, Fault(400, {"code": code, "msg": msg}))
    with pytest.raises(OrderRejected) as info:
        broker.submit(limit("stom-f1-000090"))
    assert info.value.rule == rule and msg in info.value.reason


def test_hedge_mode_account_is_read_and_refused(broker, futures) -> None:
    futures.leverage["BTCUSDT"] = 5
    futures.margin_type["ETHUSDT"] = "ISOLATED"
    read = broker.futures_settings()
    assert (read.hedge_mode, read.leverage, read.margin_mode) == (
        False,
        {BTC: 5, ETH: 20},
        {BTC: "cross", ETH: "isolated"},
    )
    assert read.describe() == (
        "position mode one-way; BTC/USDT:USDT 5x cross, ETH/USDT:USDT 20x isolated"
    )
    read.require_one_way()
    futures.hedge_mode = True
    with pytest.raises(ConfigurationError, match="hedge mode"):
        broker.futures_settings().require_one_way()
    with pytest.raises(OrderRejected) as info:  # what the venue says if we sent anyway
        broker.submit(limit("stom-f1-000100"))
    assert info.value.rule == "venue.position_mode"


def test_positions_are_signed_per_symbol(broker, futures) -> None:
    assert broker.positions() == {}
    futures.set_position("BTCUSDT", "0.5", "30000")
    futures.set_position("ETHUSDT", "-2.25", "2100")
    assert broker.positions() == {BTC: D("0.5"), ETH: D("-2.25")}
    assert broker.positions([ETH]) == {ETH: D("-2.25")}


def test_restart_finds_the_order_and_its_fills(broker, futures, make_broker) -> None:
    broker.submit(limit("stom-f1-000110", qty="0.020"))
    futures.fill("stom-f1-000110", "0.005")
    fresh = make_broker("binanceusdm", futures.base_url, symbols=[ETH, BTC])  # a restart
    snap = fresh.fetch_order("stom-f1-000110")
    assert snap is not None and snap.status is OrderStatus.PARTIALLY_FILLED
    assert (snap.filled_quantity, snap.avg_fill_price) == (D("0.005"), D("29000.5"))
    assert [(f.quantity, f.fee) for f in fresh.fetch_fills("stom-f1-000110")] == [
        (D("0.005"), D("0.05800100"))
    ]


def test_download_bars_from_the_futures_venue(futures, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = create_database(f"sqlite:///{tmp_path / 'bars.db'}")
    try:
        service = DownloadService(
            db,
            lambda name: make_exchange(
                name, base_url=futures.base_url, timeout_ms=400, enable_rate_limit=False
            ),
            page_limit=50,
        )
        since = datetime(2024, 1, 1, tzinfo=UTC)
        report = service.download("binanceusdm", BTC, "1m", since, since + timedelta(hours=1))
        assert (report.bars, report.pages) == (60, 2)
        bars = BarRepository(db).load(BTC, "1m")
        assert len(bars) == 60 and bars.ts[0] == 1_704_067_200_000
    finally:
        db.dispose()
    assert {path for _, path, _ in futures.requests} == {"/fapi/v1/exchangeInfo", "/fapi/v1/klines"}
