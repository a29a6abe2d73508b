"""The one error tree of STOM Desktop.

Every error says what went wrong, where (file:line, setting key, order id) and, where
possible, what the user can do about it. Drivers (CLI, GUI, scheduler) catch ``StomError``
and show ``str(error)``; anything else escaping is a bug.
"""

from __future__ import annotations


class StomError(Exception):
    """Base of every error STOM Desktop raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")


class ConfigurationError(StomError):
    """A setting is missing or invalid; ``key`` names it."""

    def __init__(self, message: str, *, key: str | None = None, hint: str | None = None) -> None:
        self.key = key
        super().__init__(message if key is None else f"setting '{key}': {message}", hint=hint)


class DataError(StomError):
    """Market data is malformed: ``source`` and ``line`` say where."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.source = source
        self.line = line
        where = ""
        if source is not None:
            where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class StrategyError(StomError):
    """User strategy code failed to load, validate or run; ``path``/``line`` locate it."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        hint: str | None = None,
        traceback_text: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.traceback_text = traceback_text
        where = ""
        if path is not None:
            where = path if line is None else f"{path}:{line}"
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class BrokerError(StomError):
    """A broker refused or failed an operation; ``client_order_id`` names the order."""

    def __init__(
        self, message: str, *, client_order_id: str | None = None, hint: str | None = None
    ) -> None:
        self.client_order_id = client_order_id
        prefix = f"order {client_order_id}: " if client_order_id is not None else ""
        super().__init__(prefix + message, hint=hint)


class OrderRejected(BrokerError):
    """The order was refused (by risk, a market rule or the venue); ``reason`` says why."""

    def __init__(
        self,
        reason: str,
        *,
        client_order_id: str | None = None,
        rule: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.reason = reason
        self.rule = rule
        super().__init__(
            f"rejected: {reason}" if rule is None else f"rejected by rule '{rule}': {reason}",
            client_order_id=client_order_id,
            hint=hint,
        )


class TemporaryBrokerError(BrokerError):
    """A transient failure (timeout, rate limit, 5xx); the operation may be retried."""


class BrokerAuthError(BrokerError):
    """The venue refused the credentials (bad key, IP not allowed): fatal for the session."""


class PersistenceError(StomError):
    """The database could not be reached or refused a write; nothing was half-written."""
