"""The venue-mismatch choice: setting default, spec override, CLI flag, validation."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
import typer
from typer.testing import CliRunner

from stom_desktop.cli import trade_cmd
from stom_desktop.config import LiveSettings
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionSpec
from stom_desktop.services.venue_reconcile import AssetLine, VenueReconciliation, decide

app = typer.Typer()
app.command("trade")(trade_cmd.trade)
app.command("order")(trade_cmd.order)  # two commands: "trade" stays a sub-command name


def test_the_default_is_halt_and_the_spec_can_override_it() -> None:
    assert LiveSettings().on_venue_mismatch == "halt"
    with pytest.raises(ValueError, match="on_venue_mismatch"):
        LiveSettings(on_venue_mismatch="ignore")  # type: ignore[arg-type]
    spec = SessionSpec(name="x", strategy=MANUAL_STRATEGY, symbols=("BTC/USDT",), mode="live",
                       exchange="binance", venue_mismatch="adopt")  # fmt: skip
    assert SessionSpec.from_dict(spec.to_dict()).venue_mismatch == "adopt"
    with pytest.raises(ConfigurationError, match="venue_mismatch"):
        SessionSpec(name="x", strategy=MANUAL_STRATEGY, symbols=("BTC/USDT",),
                    venue_mismatch="overwrite")  # fmt: skip


def test_cli_flag_is_checked_before_anything_runs() -> None:
    result = CliRunner().invoke(
        app,
        ["trade", "manual", "--mode", "live", "--exchange", "binance", "--symbols", "BTC/USDT",
         "--i-understand-real-money", "--on-venue-mismatch", "overwrite"],
    )  # fmt: skip
    assert isinstance(result.exception, ConfigurationError)
    assert "halt, report or adopt" in str(result.exception)


def test_no_free_quote_refuses_unless_the_start_halts_anyway() -> None:
    broke = VenueReconciliation("binance", "acc", "USDT", D(0), D(50), (), ())
    with pytest.raises(ConfigurationError, match="no free USDT"):
        decide(broke, "halt", ("BTC/USDT",), lambda s: None)
    differs = VenueReconciliation(
        "binance", "acc", "USDT", D(0), D(0), (AssetLine("BTC", D(1), D(0)),), ()
    )
    assert decide(differs, "halt", ("BTC/USDT",), lambda s: None).halt
    with pytest.raises(ConfigurationError, match="unknown policy"):
        decide(differs, "ignore", ("BTC/USDT",), lambda s: None)
