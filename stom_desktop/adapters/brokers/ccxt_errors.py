"""Map ccxt exceptions onto the STOM error tree and run venue calls with bounded retries.

Policy (issue 7):

* **429/418** (ccxt raises ``DDoSProtection`` for both on Binance, ``RateLimitExceeded``
  elsewhere): start a cool-down (``Retry-After`` when the venue sent one, else a default;
  longer for 418, an IP ban) during which no request is sent, and raise
  ``TemporaryBrokerError``.
* **5xx, timeouts, dropped connections** (``NetworkError``/``OperationFailed``): *reads*
  are retried with exponential backoff and full jitter up to a bound, then raise
  ``TemporaryBrokerError``; *writes* raise ``TemporaryBrokerError`` at once, because the
  venue may have acted: the order manager reconciles by client id, never resends with a
  new id.
* **Request too old on arrival** (Binance ``-1021``, ccxt ``InvalidNonce``, filed by ccxt
  under ``NetworkError``): on a *write* the venue provably did not act, so it is an
  ``OrderRejected(rule='venue.timestamp')``, not an unknown outcome; reads retry it.
* **Authentication** failures raise ``BrokerAuthError`` pointing at Settings ->
  Accounts (retrying cannot help; the session must stop). Binance ``-2015`` ("Invalid
  API-key, IP, or permissions") after a successful login is what Binance also answers
  during a temporary ban, so ccxt files it as ``DDoSProtection``: it cools down like a
  rate limit, but the third in a row with no successful call between them is taken as a
  revoked key or a removed IP whitelist entry and raises ``BrokerAuthError``.
* **Request weight** (``ccxt_weight``): after every answer the venue's usage header
  (Binance ``X-MBX-USED-WEIGHT-1M``, Upbit ``Remaining-Req``) is read; past 80 % of the
  minute's limit, reads sleep proportionally before they are sent (writes never wait).
* **Insufficient funds / invalid order** raise ``OrderRejected`` with the venue's reason
  (``rule='venue.insufficient_funds'`` / ``'venue.invalid_order'``). Some Upbit errors
  arrive as plain ``ExchangeError``: they are classified by the error name in the body.

Secrets never leave this module in a message: every text taken from ccxt is scrubbed
of the API key and secret (ccxt messages carry URLs and bodies) and cut to a sane length.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import ccxt

from stom_desktop.adapters.brokers.ccxt_weight import WeightGovernor
from stom_desktop.core.errors import (
    BrokerAuthError,
    BrokerError,
    OrderRejected,
    TemporaryBrokerError,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

AUTH_HINT = "check the API key, secret and IP whitelist in Settings -> Accounts"
#: Consecutive Binance -2015 answers (no success between) that mean the key is refused.
AUTH_STRIKES = 3
#: Upbit error names that arrive as plain ExchangeError (NOTES.md), by our rule.
_UPBIT_REJECTIONS = {
    "under_min_total": "venue.min_notional",
    "invalid_price": "venue.tick_size",
    "invalid_volume": "venue.lot",
    "insufficient_funds": "venue.insufficient_funds",
    "duplicate_identifier": "venue.duplicate_client_id",
}
_UPBIT_AUTH = ("no_authorization_ip", "out_of_scope", "invalid_access_key", "jwt_verification")
_MAX_MESSAGE = 400


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret replaced by ``***`` and cut to a readable length."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + "..."


@dataclass
class RetryPolicy:
    """Bounds for retrying reads and for cooling down after a rate limit."""

    read_attempts: int = 4  # first try + 3 retries
    backoff_base_s: float = 0.25
    backoff_max_s: float = 5.0
    rate_limit_cooldown_s: float = 2.0  # 429 without Retry-After
    ban_cooldown_s: float = 60.0  # 418 without Retry-After

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter for retry number ``attempt`` (0-based)."""
        cap = min(self.backoff_max_s, self.backoff_base_s * (2**attempt))
        return rng.uniform(cap / 2, cap)


class VenueCaller:
    """Runs ccxt calls for one venue: maps errors, retries reads, honours cool-downs.

    ``sleep`` and ``monotonic`` are injectable so tests run without waiting; ``weights``
    (default: a ``WeightGovernor`` for the venue on the wall clock) paces reads.
    """

    def __init__(
        self,
        venue: str,
        exchange: ccxt.Exchange,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        weights: WeightGovernor | None = None,
    ) -> None:
        self.venue = venue
        self.weights = weights if weights is not None else WeightGovernor(venue)
        self._seen_headers: object = None
        self._ex = exchange
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._cooldown_until = 0.0
        self._auth_strikes = 0  # consecutive Binance -2015 answers

    @property
    def cooling_down_s(self) -> float:
        """Seconds left in the current rate-limit cool-down (0 when none)."""
        return max(0.0, self._cooldown_until - self._monotonic())

    def _secrets(self) -> tuple[str | None, str | None]:
        return (getattr(self._ex, "apiKey", None), getattr(self._ex, "secret", None))

    def text(self, exc: BaseException) -> str:
        """The exception's message, scrubbed of credentials."""
        return scrub(f"{type(exc).__name__}: {exc}", self._secrets())

    def read(self, what: str, fn: Callable[[], T], *, cid: str | None = None) -> T:
        """Run a read; transient failures are retried with backoff, then raise."""
        attempts = max(1, self.policy.read_attempts)
        for attempt in range(attempts):
            self._check_cooldown(what, cid)
            self._pace(what)
            try:
                result = fn()
                self._auth_strikes = 0
                return result
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
                raise self._rate_limited(what, exc, cid) from None
            except (ccxt.NetworkError, ccxt.OperationFailed) as exc:
                if attempt + 1 >= attempts:
                    raise TemporaryBrokerError(
                        f"{self.venue} {what} failed after {attempts} attempts: {self.text(exc)}",
                        client_order_id=cid,
                        hint="the venue or the network is unavailable; retried with backoff",
                    ) from None
                delay = self.policy.backoff(attempt, self._rng)
                log.warning(
                    "%s %s: %s; retry %d in %.2fs",
                    self.venue,
                    what,
                    self.text(exc),
                    attempt + 1,
                    delay,
                )
                self._sleep(delay)
            except ccxt.BaseError as exc:
                raise self.map_final(what, exc, cid) from None
            finally:
                self._observe()
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns/raises

    def write(self, what: str, fn: Callable[[], T], *, cid: str | None = None) -> T:
        """Run a write once; an unknown outcome raises ``TemporaryBrokerError``."""
        self._check_cooldown(what, cid)
        try:
            result = fn()
            self._auth_strikes = 0
            return result
        except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
            raise self._rate_limited(what, exc, cid) from None
        except ccxt.InvalidNonce as exc:
            # Binance -1021: refused on arrival as too old (or too far ahead), so the
            # venue did NOT act. ccxt files it under NetworkError, but it is no unknown
            # outcome; and an automatic resend would act on a stale decision (or fail
            # forever on a skewed clock): the caller gets a refusal it can record.
            raise OrderRejected(
                f"{self.venue} {what}: refused, the request reached the venue outside its "
                f"recvWindow ({self.text(exc)})",
                client_order_id=cid,
                rule="venue.timestamp",
                hint="sync the computer's clock (NTP); check the network delay to the venue",
            ) from None
        except (ccxt.NetworkError, ccxt.OperationFailed) as exc:
            raise TemporaryBrokerError(
                f"{self.venue} {what}: outcome unknown ({self.text(exc)})",
                client_order_id=cid,
                hint="the order is reconciled by its client id; it is never resent under a new id",
            ) from None
        except ccxt.BaseError as exc:
            raise self.map_final(what, exc, cid) from None
        finally:
            self._observe()

    def map_final(self, what: str, exc: ccxt.BaseError, cid: str | None) -> BrokerError:
        """A non-transient ccxt error as ``BrokerError``/``OrderRejected``."""
        message = self.text(exc)
        raw = str(exc)
        if isinstance(
            exc, ccxt.AuthenticationError | ccxt.PermissionDenied | ccxt.AccountSuspended
        ) or any(name in raw for name in _UPBIT_AUTH):
            return BrokerAuthError(
                f"{self.venue} refused the credentials during {what}: {message}",
                client_order_id=cid,
                hint=AUTH_HINT,
            )
        for name, rule in _UPBIT_REJECTIONS.items():
            if name in raw:
                return OrderRejected(f"{self.venue}: {message}", client_order_id=cid, rule=rule)
        if isinstance(exc, ccxt.InsufficientFunds) or "insufficient balance" in raw:
            return OrderRejected(
                f"{self.venue}: {message}", client_order_id=cid, rule="venue.insufficient_funds"
            )
        if isinstance(exc, ccxt.InvalidOrder | ccxt.BadRequest | ccxt.BadSymbol):
            return OrderRejected(
                f"{self.venue}: {message}", client_order_id=cid, rule="venue.invalid_order"
            )
        return BrokerError(f"{self.venue} {what} failed: {message}", client_order_id=cid)

    def _rate_limited(self, what: str, exc: ccxt.BaseError, cid: str | None) -> BrokerError:
        if '"code":-2015' in str(exc).replace(" ", ""):
            self._auth_strikes += 1
            if self._auth_strikes >= AUTH_STRIKES:
                return BrokerAuthError(
                    f"{self.venue} refused the credentials {self._auth_strikes} times in a "
                    f"row during {what}: {self.text(exc)}",
                    client_order_id=cid,
                    hint=AUTH_HINT,
                )
        banned = " 418 " in str(exc)
        wait = self._retry_after()
        if wait is None:
            wait = self.policy.ban_cooldown_s if banned else self.policy.rate_limit_cooldown_s
        self._cooldown_until = max(self._cooldown_until, self._monotonic() + wait)
        log.warning(
            "%s rate limit on %s: cooling down %.1fs (%s)", self.venue, what, wait, self.text(exc)
        )
        return TemporaryBrokerError(
            f"{self.venue} {what}: rate limited{' (IP banned)' if banned else ''}; "
            f"no requests for {wait:.1f}s",
            client_order_id=cid,
        )

    def _retry_after(self) -> float | None:
        headers = getattr(self._ex, "last_response_headers", None) or {}
        for key, value in dict(headers).items():
            if str(key).lower() == "retry-after":
                try:
                    return float(value)
                except (TypeError, ValueError):
                    return None
        return None

    def _observe(self) -> None:
        """Feed the last answer's headers to the governor (once: a timeout has none)."""
        headers = getattr(self._ex, "last_response_headers", None)
        if headers is not None and headers is not self._seen_headers:
            self._seen_headers = headers
            self.weights.observe(headers)

    def _pace(self, what: str) -> None:
        """Sleep before a read while the venue reports a hot request-weight minute."""
        wait = self.weights.delay()
        if wait > 0:
            log.debug("%s %s: request weight high, waiting %.2fs", self.venue, what, wait)
            self._sleep(wait)

    def _check_cooldown(self, what: str, cid: str | None) -> None:
        left = self.cooling_down_s
        if left > 0:
            raise TemporaryBrokerError(
                f"{self.venue} {what}: still cooling down after a rate limit ({left:.1f}s left)",
                client_order_id=cid,
            )
