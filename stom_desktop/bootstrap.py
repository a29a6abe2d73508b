"""Composition root: settings -> database -> repositories -> services, built once per process.

Drivers (CLI, GUI, scheduler jobs) call :func:`build_app` and then only talk to the
services on the returned :class:`App`. The database is opened lazily so that commands that
do not need it (``stom config show``) start instantly and still work with a dead database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from stom_desktop.adapters.secrets import KeyringSecretStore
from stom_desktop.config import AppPaths, Settings, app_paths, load_settings
from stom_desktop.persistence import Database, create_database
from stom_desktop.services.account_service import AccountService
from stom_desktop.services.data_service import DataService
from stom_desktop.services.notification_service import NotificationService
from stom_desktop.services.schedule_service import ScheduleService
from stom_desktop.services.strategy_service import StrategyService
from stom_desktop.services.trading_service import TradingService

if TYPE_CHECKING:
    # Imported where first used: they pull in numba and pandas (tens of MB, seconds), which
    # the tray and a paper session never need unless the user runs a backtest.
    from stom_desktop.services.backtest_service import BacktestService
    from stom_desktop.services.optimize_service import OptimizeService


@dataclass
class App:
    """The wired application: settings, paths and the services drivers may call."""

    settings: Settings
    paths: AppPaths = field(default_factory=app_paths)

    @cached_property
    def database(self) -> Database:
        self.paths.ensure()
        return create_database(self.settings.resolved_database_url(self.paths))

    @cached_property
    def strategies(self) -> StrategyService:
        return StrategyService(self.settings.resolved_strategies_dir(self.paths))

    @cached_property
    def data(self) -> DataService:
        return DataService(self.database)

    @cached_property
    def backtests(self) -> BacktestService:
        from stom_desktop.services.backtest_service import BacktestService

        return BacktestService(self.settings, self.database, self.strategies, self.data)

    @cached_property
    def optimizer(self) -> OptimizeService:
        from stom_desktop.services.optimize_service import OptimizeService

        return OptimizeService(self.settings, self.database, self.strategies, self.data)

    @cached_property
    def trading(self) -> TradingService:
        service = TradingService(self.settings, self.database, self.strategies, self.paths)
        self.notifications.attach(service.events)  # Telegram follows every session's events
        return service

    @cached_property
    def notifications(self) -> NotificationService:
        """Telegram notifications (fills, errors, daily report); cheap until enabled."""
        return NotificationService(
            self.settings.notifications, self.secrets, timezone=self.settings.timezone
        )

    @cached_property
    def schedule(self) -> ScheduleService:
        return ScheduleService(
            self.database, timezone=self.settings.timezone, strategies=self.strategies
        )

    @cached_property
    def secrets(self) -> KeyringSecretStore:
        return KeyringSecretStore()

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(self.secrets)

    def close(self) -> None:
        """Stop running sessions, then release the database connection pool if opened."""
        if "trading" in self.__dict__:
            self.trading.shutdown()
        if "notifications" in self.__dict__:
            self.notifications.close()  # after the sessions' last events; sends what is queued
        if "database" in self.__dict__:
            self.database.dispose()


def build_app(settings: Settings | None = None) -> App:
    """Load settings (validated once) and return the lazily wired application."""
    return App(settings if settings is not None else load_settings())
