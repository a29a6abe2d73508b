"""NotificationService: fills, errors, halts and the daily report to Telegram, off the engine.

The service subscribes to the trading event bus. Its handlers run on the engine thread and
only drop a reference into a bounded queue (``put_nowait``; when the queue is full the event
is counted as dropped and the next message says so): nothing on the engine or GUI thread
ever waits for the network. One worker thread sends:

* **Coalescing**: the worker collects whatever arrives within ``coalesce_s`` (1 s) of the
  first event and sends one message for all fills and one for all errors of that window,
  so a burst of 200 fills is one message with per-symbol totals, not 200.
* **Rate**: at most one message per ``min_interval_s`` (Telegram allows about one per
  second per chat).
* **Retries**: a retryable failure (network, 5xx, 429) is retried ``attempts - 1`` times
  with doubling backoff (or Telegram's ``retry_after``); then it is logged, counted, and,
  first of a failure streak only, published on the bus as an
  :class:`~stom_desktop.core.events.ErrorEvent` (``session_id`` ``"telegram"``) so the tray
  and dashboard show it. Errors from this source are never sent to Telegram (no loop).

What is sent follows ``settings.notifications`` (``telegram`` and the ``telegram_*``
switches), swapped at run time by :meth:`NotificationService.configure`. The token is read
from the secret store on the worker; it never appears in a message, log line or error.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from stom_desktop.adapters.notifiers.telegram import (
    TOKEN_KEY,
    NotifierError,
    TelegramNotifier,
    check_token_shape,
)
from stom_desktop.adapters.secrets import BackendInfo, SecretStoreError
from stom_desktop.config.settings import NotificationSettings
from stom_desktop.core.errors import ConfigurationError, StomError
from stom_desktop.core.events import (
    ErrorEvent,
    FillEvent,
    RiskRejectEvent,
    SessionState,
    SessionStateEvent,
)
from stom_desktop.services.notification_text import (
    daily_report_text,
    errors_message,
    fills_message,
)

log = logging.getLogger(__name__)

#: ``session_id`` of the ErrorEvents this service publishes (never forwarded to Telegram).
SOURCE = "telegram"
#: Risk rules that stop trading for the day (or until released): worth a message, once.
HALT_RULES = frozenset({"risk.kill_switch", "risk.daily_loss_limit", "risk.daily_profit_lock"})
_STOP = object()


class SecretStore(Protocol):
    """The secret store calls the service makes (``adapters.secrets.KeyringSecretStore``)."""

    def backend_info(self) -> BackendInfo: ...
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> bool: ...


class Bus(Protocol):
    """Subscribe/publish on the event bus (``engine.bus.EventBus``)."""

    def subscribe(self, event_type: type, handler: Callable[[Any], None]) -> Callable[[], None]: ...
    def publish(self, event: object) -> None: ...


@dataclass(frozen=True, slots=True)
class TelegramStatus:
    """What Settings and ``stom notify telegram status`` show; never the token itself."""

    enabled: bool
    chat_id: str | None
    token_stored: bool
    backend: str
    backend_secure: bool
    backend_warning: str | None
    sent: int
    failed: int
    dropped: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class _Item:
    kind: str  # fill | error | report | notice
    payload: Any  # FillEvent for fills, (title, text) otherwise


class NotificationService:
    """Telegram delivery of engine events and reports (see the module docstring)."""

    def __init__(
        self,
        settings: NotificationSettings,
        secrets: SecretStore,
        *,
        timezone: str = "UTC",
        queue_size: int = 1000,
        coalesce_s: float = 1.0,
        min_interval_s: float = 1.0,
        attempts: int = 4,
        backoff_s: float = 1.0,
        timeout_s: float = 10.0,
    ) -> None:
        self._cfg = settings
        self._secrets = secrets
        self._tz = ZoneInfo(timezone)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._coalesce_s = coalesce_s
        self._min_interval_s = min_interval_s
        self._attempts = max(1, attempts)
        self._backoff_s = backoff_s
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._abort = threading.Event()  # close() gave up waiting: stop sleeping/retrying
        self._bus: Bus | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._notifier: TelegramNotifier | None = None
        self._halts_seen: set[tuple[str, str, str]] = set()
        self._last_send = 0.0
        self._in_failure_streak = False
        self._dropped_unreported = 0
        #: Messages delivered / given up on / events dropped on a full queue.
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.last_error: str | None = None

    # -- configuration --------------------------------------------------------------------
    @property
    def settings(self) -> NotificationSettings:
        """The switches in force (``settings.notifications``)."""
        return self._cfg

    def configure(self, settings: NotificationSettings) -> None:
        """Follow new switches/chat id at once (the Settings window calls this on Save)."""
        with self._lock:
            self._cfg = settings
            self._notifier = None  # chat id or API URL may have changed

    def enabled(self, kind: str) -> bool:
        """Whether ``kind`` (fills, errors, daily_report) goes to Telegram now."""
        cfg = self._cfg
        return bool(cfg.telegram and getattr(cfg, f"telegram_{kind}"))

    def status(self) -> TelegramStatus:
        """Token stored?, chat id, keyring backend and delivery counters (reads the keyring)."""
        info = self._secrets.backend_info()
        try:
            stored = info.available and bool(self._secrets.get(TOKEN_KEY))
        except SecretStoreError as exc:
            log.warning("telegram: cannot read the keyring: %s", exc)
            stored = False
        cfg = self._cfg
        return TelegramStatus(
            enabled=cfg.telegram,
            chat_id=cfg.telegram_chat_id,
            token_stored=stored,
            backend=info.name,
            backend_secure=info.secure,
            backend_warning=info.warning,
            sent=self.sent,
            failed=self.failed,
            dropped=self.dropped,
            last_error=self.last_error,
        )

    def set_token(self, token: str, *, allow_insecure: bool = False) -> None:
        """Store the bot token in the keyring (refused on a plaintext backend unless allowed)."""
        token = check_token_shape(token)
        info = self._secrets.backend_info()
        if not info.available:
            raise SecretStoreError(info.warning or "no keyring available", key=TOKEN_KEY)
        if not info.secure and not allow_insecure:
            raise SecretStoreError(
                info.warning or "the keyring backend is not secure",
                key=TOKEN_KEY,
                hint="confirm storing in plain text (--allow-insecure) or set up an OS keyring",
            )
        if not info.secure:
            log.warning("storing the Telegram bot token in an INSECURE keyring (%s)", info.name)
        self._secrets.set(TOKEN_KEY, token)
        with self._lock:
            self._notifier = None
        log.info("telegram bot token saved in the keyring (%s)", info.name)

    def clear_token(self) -> bool:
        """Remove the bot token from the keyring; False when none was stored."""
        removed = self._secrets.delete(TOKEN_KEY)
        with self._lock:
            self._notifier = None
        log.info("telegram bot token %s", "removed" if removed else "was not stored")
        return removed

    # -- the bus --------------------------------------------------------------------------
    def attach(self, bus: Bus) -> None:
        """Subscribe to fills, errors, failed sessions and trading halts on ``bus``."""
        self.detach()
        self._bus = bus
        self._unsubscribe = [
            bus.subscribe(FillEvent, self._on_fill),
            bus.subscribe(ErrorEvent, self._on_error),
            bus.subscribe(SessionStateEvent, self._on_state),
            bus.subscribe(RiskRejectEvent, self._on_reject),
        ]

    def detach(self) -> None:
        """Stop listening to the bus (queued messages are still sent)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    # Handlers run on the engine thread: a flag check and a put_nowait, nothing else.
    def _on_fill(self, event: FillEvent) -> None:
        if self.enabled("fills"):
            self._enqueue(_Item("fill", event))

    def _on_error(self, event: ErrorEvent) -> None:
        if event.session_id != SOURCE and self.enabled("errors"):
            title = f"Error in session {event.session_id}"
            self._enqueue(_Item("error", (title, event.message)))

    def _on_state(self, event: SessionStateEvent) -> None:
        if event.state is SessionState.ERROR and self.enabled("errors"):
            title = f"Session {event.session_id} failed"
            self._enqueue(_Item("error", (title, event.message or "stopped with an error")))

    def _on_reject(self, event: RiskRejectEvent) -> None:
        if event.rule not in HALT_RULES or not self.enabled("errors"):
            return
        day = datetime.fromtimestamp(event.ts_ms / 1000, tz=UTC).date().isoformat()
        key = (event.session_id, event.rule, day)
        with self._lock:  # several engine threads publish; one message per halt and day
            if key in self._halts_seen:
                return
            self._halts_seen.add(key)
        title = f"Trading halted in session {event.session_id} ({event.rule})"
        self._enqueue(_Item("error", (title, event.reason)))

    # -- other senders --------------------------------------------------------------------
    def send_daily_report(self, report: Any) -> bool:
        """Queue the daily report (a ``DailyReport``) when enabled; True if queued."""
        if not self.enabled("daily_report"):
            return False
        title, text = daily_report_text(report, self._tz)
        return self._enqueue(_Item("report", (title, text)))

    def send_notice(self, kind: str, title: str, text: str) -> bool:
        """Queue a scheduler notice; only failures and missed runs go out (as errors)."""
        if kind not in ("error", "missed") or not self.enabled("errors"):
            return False
        return self._enqueue(_Item("error", (title, text)))

    def send_test(
        self,
        *,
        chat_id: str | None = None,
        token: str | None = None,
        api_url: str | None = None,
    ) -> str:
        """Send a test message now, on the calling thread; returns what happened.

        Unsaved form values may be passed (``chat_id``, ``token``, ``api_url``); missing
        ones come from the settings and the keyring. Raises ``NotifierError`` (token
        scrubbed) or ``ConfigurationError``. Call it off the GUI thread.
        """
        cfg = self._cfg
        chat = chat_id.strip() if chat_id and chat_id.strip() else cfg.telegram_chat_id
        url = api_url.strip() if api_url and api_url.strip() else cfg.telegram_api_url
        try:  # the form's values get the same checks as saved settings
            checked = NotificationSettings(telegram_chat_id=chat, telegram_api_url=url)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigurationError(
                str(first["msg"]), key=f"notifications.{first['loc'][0]}"
            ) from None
        chat, url = checked.telegram_chat_id, checked.telegram_api_url
        if token and token.strip():
            notifier = self._build(check_token_shape(token), chat, url)
        else:
            notifier = self._from_store(chat, url)
        notifier.notify("info", "STOM Desktop test message", "Telegram notifications work.")
        return f"test message sent to chat {notifier.chat_id}"

    # -- queue and worker -----------------------------------------------------------------
    def _enqueue(self, item: _Item) -> bool:
        self._ensure_worker()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self.dropped += 1
                self._dropped_unreported += 1
                first = self._dropped_unreported == 1
            if first:
                log.warning("telegram: queue full, dropping notifications until it drains")
            return False
        return True

    def _ensure_worker(self) -> None:
        if self._worker is not None:
            return
        with self._lock:
            if self._worker is None:
                self._abort.clear()
                worker = threading.Thread(target=self._run, name="telegram-notify", daemon=True)
                worker.start()
                self._worker = worker

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                self._queue.task_done()
                return
            batch: list[_Item] = [first]
            deadline = time.monotonic() + self._coalesce_s
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._abort.is_set():
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    self._queue.task_done()
                    break
                batch.append(item)
            try:
                for kind, title, text in self._compose(batch):
                    self._deliver(kind, title, text)
            except Exception:  # a formatting bug must not kill the worker; logged, go on
                log.exception("telegram: could not send a batch of %d notification(s)", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _compose(self, batch: list[_Item]) -> list[tuple[str, str, str]]:
        fills = [item.payload for item in batch if item.kind == "fill"]
        errors = [item.payload for item in batch if item.kind == "error"]
        with self._lock:
            dropped, self._dropped_unreported = self._dropped_unreported, 0
        out: list[tuple[str, str, str]] = []
        if errors:
            out.append(("error", *errors_message(errors)))
        if fills:
            out.append(("fill", *fills_message(fills, self._tz)))
        out += [("report", *item.payload) for item in batch if item.kind == "report"]
        if dropped:
            note = f"\n({dropped} notification(s) dropped: the queue was full)"
            if out:
                kind, title, text = out[0]
                out[0] = (kind, title, text + note)
            else:
                out.append(("error", "Notifications dropped", note.strip()))
        return out

    def _deliver(self, kind: str, title: str, text: str) -> None:
        if self._abort.is_set():  # close() ran out of time: do not start another request
            with self._lock:
                self.failed += 1
            log.error("telegram: %s message %r not sent: shutting down", kind, title)
            return
        error: StomError | None = None
        for attempt in range(1, self._attempts + 1):
            self._pace()
            try:
                notifier = self._current_notifier()
                notifier.notify(kind, title, text)
            except (NotifierError, ConfigurationError, SecretStoreError) as exc:
                error = exc
                retry = getattr(exc, "retryable", False) and attempt < self._attempts
                if not retry or self._abort.is_set():
                    break
                delay = getattr(exc, "retry_after", None)
                delay = self._backoff_s * 2 ** (attempt - 1) if delay is None else delay
                log.info("telegram: attempt %d failed (%s); retry in %.1f s", attempt, exc, delay)
                if self._abort.wait(delay):
                    break  # close() ran out of time while we waited
            else:
                with self._lock:
                    self.sent += 1
                    self._in_failure_streak = False
                return
        self._failed(kind, title, error, attempt)

    def _pace(self) -> None:
        wait = self._last_send + self._min_interval_s - time.monotonic()
        if wait > 0:
            self._abort.wait(wait)
        self._last_send = time.monotonic()

    def _failed(self, kind: str, title: str, error: StomError | None, attempts: int) -> None:
        text = str(error) if error is not None else "unknown error"
        with self._lock:
            self.failed += 1
            self.last_error = text
            first_of_streak = not self._in_failure_streak
            self._in_failure_streak = True
        log.error(
            "telegram: %s message %r not sent after %d attempt(s): %s", kind, title, attempts, text
        )
        bus = self._bus
        if first_of_streak and bus is not None:
            now_ms = int(time.time() * 1000)
            bus.publish(ErrorEvent(SOURCE, f"Telegram notification not sent: {text}", None, now_ms))

    def _current_notifier(self) -> TelegramNotifier:
        with self._lock:
            notifier, cfg = self._notifier, self._cfg
        if notifier is None:
            notifier = self._from_store(cfg.telegram_chat_id, cfg.telegram_api_url)
            with self._lock:
                if self._cfg is cfg:
                    self._notifier = notifier
        return notifier

    def _from_store(self, chat_id: str | None, url: str) -> TelegramNotifier:
        return TelegramNotifier.from_store(
            self._secrets, chat_id, base_url=url, timeout_s=self._timeout_s
        )

    def _build(self, token: str, chat_id: str | None, url: str) -> TelegramNotifier:
        if not chat_id:
            raise ConfigurationError("no chat id to send to", key="notifications.telegram_chat_id")
        return TelegramNotifier(token, chat_id, base_url=url, timeout_s=self._timeout_s)

    # -- lifecycle ------------------------------------------------------------------------
    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued notification was sent or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks > 0:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Detach, send what is queued (up to ``timeout`` s), then stop the worker."""
        self.detach()
        worker = self._worker
        if worker is None:
            return
        if not self.flush(timeout):
            left = self._queue.unfinished_tasks
            log.warning("telegram: %d notification(s) not sent before shutdown", left)
            self._abort.set()  # stop waiting on backoffs and pacing
        try:
            self._queue.put(_STOP, timeout=1.0)
        except queue.Full:
            log.warning("telegram: worker queue still full at shutdown")
        worker.join(timeout=2.0)
        with self._lock:
            self._worker = None
