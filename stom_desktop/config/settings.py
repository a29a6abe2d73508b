"""Typed, frozen application settings (pydantic-settings).

Sources, highest priority first: ``STOM_*`` environment variables (nested keys with
``__``, e.g. ``STOM_BACKTEST__FEE_PCT``), then ``settings.json`` in the user config dir,
then the defaults here. Settings are validated once, when loaded; a bad value raises
``ConfigurationError`` naming the key.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from stom_desktop.config.paths import AppPaths, app_paths
from stom_desktop.core.errors import ConfigurationError

_CHAT_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$")


class BacktestDefaults(BaseModel):
    """Defaults for backtests when the command line does not say otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_capital: float = Field(1_000_000.0, gt=0)
    fee_pct: float = Field(0.0, ge=0, lt=0.1, description="fee per fill, fraction of notional")
    fee_fixed: float = Field(0.0, ge=0, description="fixed fee per fill, account currency")
    slippage_bps: float = Field(0.0, ge=0, lt=1000)
    fill_at: Literal["next_open", "close"] = "next_open"
    fractional: bool = True
    min_notional: float = Field(0.0, ge=0)


class RiskLimits(BaseModel):
    """Account-wide risk limits applied to every session (the engine enforces them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_open_positions: int = Field(10, ge=1)
    max_position_pct: float = Field(0.25, gt=0, le=1.0)
    max_order_notional: float = Field(10_000_000.0, gt=0)
    daily_loss_limit_pct: float = Field(0.05, gt=0, le=1.0)
    daily_profit_lock_pct: float | None = Field(None, gt=0)
    cooldown_seconds: int = Field(0, ge=0)
    blacklist: tuple[str, ...] = ()


class LiveSettings(BaseModel):
    """Live trading on a real venue: which account, and hard notional caps (quote currency).

    The caps are checked by the exchange broker before an order is sent: an order whose
    notional exceeds ``per_order_notional_cap``, or that would take the day's (UTC) sent
    notional over ``per_day_notional_cap``, is rejected with the rule named.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str | None = Field(None, description="account name in Settings -> Accounts")
    exchange: Literal["binance", "binanceusdm", "upbit"] = "binance"  # usdm: USDT-M futures
    per_order_notional_cap: float = Field(1_000.0, gt=0)
    per_day_notional_cap: float = Field(10_000.0, gt=0)
    poll_interval_s: float = Field(2.0, gt=0, le=3600)
    #: Market data: the venue's websocket (REST polling every ``poll_interval_s`` while it
    #: is down) or REST polling only.
    feed: Literal["websocket", "rest"] = "websocket"
    #: At a live start the venue's balances and open orders are compared with the journal:
    #: on a difference, ``halt`` refuses to start, ``report`` starts beside it (untouched),
    #: ``adopt`` starts holding what the venue holds (services/venue_reconcile.py).
    on_venue_mismatch: Literal["halt", "report", "adopt"] = "halt"

    @field_validator("per_day_notional_cap")
    @classmethod
    def _day_cap_not_below_order_cap(cls, value: float, info: Any) -> float:
        order_cap = info.data.get("per_order_notional_cap")
        if order_cap is not None and value < order_cap:
            raise ValueError(
                f"per_day_notional_cap ({value}) must be >= per_order_notional_cap ({order_cap})"
            )
        return value


class NotificationSettings(BaseModel):
    """Which events notify: on the desktop (tray) and, when ``telegram`` is on, on Telegram.

    The tray switches (``fills``, ``errors``, ``daily_report``) and the Telegram ones
    (``telegram_*``) are separate: a phone usually wants fewer messages than the desktop.
    The bot token is a secret and lives only in the keyring (entry ``telegram:bot_token``),
    never here. The chat id is not a secret (it only says where to send; without the token
    it grants nothing), so it is a plain setting: visible in ``stom config show`` and
    settable by ``STOM_NOTIFICATIONS__TELEGRAM_CHAT_ID`` on a headless server.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fills: bool = True
    errors: bool = True
    daily_report: bool = True
    telegram: bool = Field(False, description="send notifications to Telegram")
    telegram_fills: bool = True
    telegram_errors: bool = True
    telegram_daily_report: bool = True
    telegram_chat_id: str | None = Field(
        None, description="numeric chat id (groups: -100...) or @channel name"
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org", description="Bot API server (a self-hosted one works)"
    )

    @field_validator("telegram_chat_id", mode="before")
    @classmethod
    def _chat_id(cls, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool):
            raise ValueError("expected a chat id, not true/false")
        text = str(value).strip()  # `stom config set` parses -100123 as a JSON number
        if text == "":
            return None
        if not _CHAT_ID.match(text):
            raise ValueError(
                f"{text!r} is not a Telegram chat id: use the number (e.g. 123456789, "
                "groups -100...) or an @channel name"
            )
        return text

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")


class Settings(BaseSettings):
    """Everything configurable, validated and frozen."""

    model_config = SettingsConfigDict(
        env_prefix="STOM_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
    )

    database_url: str | None = Field(
        None, description="SQLAlchemy URL; empty means SQLite in the user data dir"
    )
    redis_url: str | None = Field(None, description="redis://host:port/db; empty = in-process")
    timezone: str = Field("Asia/Seoul", description="exchange time zone shown in the UI")
    strategies_dir: Path | None = Field(None, description="folder of user strategies")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    backtest: BacktestDefaults = BacktestDefaults()
    risk: RiskLimits = RiskLimits()
    notifications: NotificationSettings = NotificationSettings()
    live: LiveSettings = LiveSettings()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (try Asia/Seoul or UTC)") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split(":", 1)[0]
        if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
            raise ValueError(
                f"unsupported database URL scheme {scheme!r}: use sqlite:///path "
                "or postgresql+psycopg://user@host/db"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        json_file = app_paths().settings_file
        return (
            init_settings,
            env_settings,
            JsonConfigSettingsSource(settings_cls, json_file=json_file),
        )

    def resolved_database_url(self, paths: AppPaths | None = None) -> str:
        """The database URL to connect to (SQLite in the data dir when none is set)."""
        if self.database_url is not None:
            return self.database_url
        paths = paths if paths is not None else app_paths()
        return f"sqlite:///{paths.default_database}"

    def resolved_strategies_dir(self, paths: AppPaths | None = None) -> Path:
        if self.strategies_dir is not None:
            return self.strategies_dir
        paths = paths if paths is not None else app_paths()
        return paths.user_strategies_dir


def _error_key(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "<settings>"


def _as_configuration_error(exc: ValidationError, origin: str) -> ConfigurationError:
    first = exc.errors()[0]
    key = _error_key(first)
    extra = len(exc.errors()) - 1
    more = f" (+{extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    return ConfigurationError(f"{first['msg']}{more}", key=key, hint=f"from {origin}")


def load_settings() -> Settings:
    """Load and validate settings from the environment and the settings file."""
    paths = app_paths()
    settings_file = paths.settings_file
    if settings_file.exists():
        try:
            json.loads(settings_file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"{settings_file}:{exc.lineno}: not valid JSON ({exc.msg})",
                hint="fix or delete the file; `stom config show` lists valid keys",
            ) from exc
    try:
        return Settings()
    except ValidationError as exc:
        env_keys = [k for k in os.environ if k.startswith("STOM_")]
        origin = f"{settings_file} or environment ({', '.join(env_keys) or 'no STOM_ vars'})"
        raise _as_configuration_error(exc, origin) from exc


def _coerce_text(raw: str) -> Any:
    """Interpret a command-line value: JSON if it parses (numbers, true, null, lists)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def set_setting(key: str, raw_value: str) -> Settings:
    """Validate ``key = raw_value`` against the schema and save it to the settings file.

    The file is only rewritten when the whole result validates; the write is atomic.
    """
    parts = key.split(".")
    fields: dict[str, Any] = dict(Settings.model_fields)
    model: type[BaseModel] = Settings
    for depth, part in enumerate(parts):
        if part not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigurationError(f"unknown setting (known here: {known})", key=key)
        annotation = fields[part].annotation
        if depth < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                raise ConfigurationError(f"'{part}' has no sub-settings", key=key)
            model = annotation
            fields = dict(model.model_fields)
    paths = app_paths()
    settings_file = paths.settings_file
    current: dict[str, Any] = {}
    if settings_file.exists():
        current = json.loads(settings_file.read_text(encoding="utf-8"))
    node = current
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = None if raw_value == "" else _coerce_text(raw_value)
    try:
        # Validate the file's content alone (no environment) so what we save is valid.
        Settings.model_validate(current)
    except ValidationError as exc:
        raise _as_configuration_error(exc, "stom config set") from exc
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(current, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(settings_file)
    return load_settings()
