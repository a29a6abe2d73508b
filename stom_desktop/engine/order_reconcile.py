"""The order manager's reconciliation with the venue: unknown submits, resyncs, restarts.

:class:`ReconcileMixin` gives ``OrderManager``:

* ``reconcile_pending``: orders whose submit outcome is unknown (a timeout, a 5xx, a
  dropped connection, a failed background journal write) are looked up at the venue by
  their client id; what the venue has is adopted, an order it never got is resent under
  the *same* id. Never a new id.
* ``resync_open_orders``: after a dropped stream or a reconnect, every open order is
  compared with the venue and missed acceptances, fills, cancels and expiries adopted.
* ``recover``: after a restart, ``engine/recovery.py`` rebuilds orders, fills, intent
  keys and portfolios from the journal and the venue; this adopts its report.
"""

from __future__ import annotations

from stom_desktop.core.errors import BrokerError
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.engine import recovery
from stom_desktop.engine.order_books import OrderBooks, log


class ReconcileMixin(OrderBooks):
    """``reconcile_pending`` / ``resync_open_orders`` / ``recover`` (see the module doc)."""

    def reconcile_pending(self) -> list[str]:
        """Resolve orders whose submit outcome was unknown; returns the resolved ids."""
        with self._lock:
            resolved = []
            for cid in sorted(self._pending):
                try:
                    venue = self._broker.fetch_order(cid)
                except BrokerError as exc:
                    log.warning("reconcile %s: broker still unavailable: %s", cid, exc)
                    continue
                if venue is None:
                    if self._orders[cid].status is not OrderStatus.NEW:
                        log.error("reconcile %s: acknowledged once, unknown at the venue now", cid)
                        continue
                    result = self._submit(cid)  # the venue never got it: resend, SAME id
                    if cid not in self._pending:
                        resolved.append(cid)
                    log.info("reconcile %s: resent, %s", cid, result)
                    continue
                self._sync(cid, venue, "reconciled")
                self._pending.discard(cid)
                resolved.append(cid)
            return resolved

    def resync_open_orders(self) -> list[str]:
        """Ask the venue about every open order (after a dropped stream or a reconnect).

        Adopts what the listener missed: acceptances, fills (by fill id, once), cancels and
        expiries. Returns the ids whose state changed.
        """
        with self._lock:
            changed = []
            for cid in [c for c, o in self._orders.items() if o.is_open]:
                before = self._orders[cid].snapshot()
                try:
                    venue = self._broker.fetch_order(cid)
                except BrokerError as exc:
                    log.warning("resync %s: broker unavailable: %s", cid, exc)
                    continue
                if venue is None:
                    continue  # never reached the venue: reconcile_pending decides
                self._sync(cid, venue, "resync")
                self._pending.discard(cid)
                after = self._orders[cid]
                if (after.status, after.filled_quantity) != (before.status, before.filled_quantity):
                    changed.append(cid)
            return changed

    def recover(
        self, orphan_policy: recovery.OrphanPolicy = recovery.OrphanPolicy.ADOPT
    ) -> recovery.RecoveryReport:
        """Reconcile with the venue after a restart and rebuild every registered session.

        Call after ``register_session`` and before the first ``place``. The journal must
        be a ``recovery.JournalHistory``.
        """
        if not isinstance(self._journal, recovery.JournalHistory):
            raise TypeError(
                "recover() needs a journal that can list orders and fills, "
                f"got {type(self._journal).__name__}"
            )
        with self._lock:
            cash = {k: b.initial_cash for k, b in self._by_id_session.items()}
            currency = (
                next(iter(self._sessions.values())).portfolio.currency if self._sessions else "KRW"
            )
            report = recovery.recover(
                self._broker,
                self._journal,
                clock=self._clock,
                prefix=self.prefix,
                orphan_policy=orphan_policy,
                initial_cash=cash,
                currency=currency,
            )
            self._fill_ids |= report.fill_ids
            for id_session, book in self._by_id_session.items():
                book.ids.resume_after(report.client_ids)
                book.intents.update(report.intents.get(id_session, {}))
                book.portfolio = report.portfolios.get(id_session, book.portfolio)
            for cid, restored in report.open_orders.items():
                self._orders[cid] = self._retag(restored)
                self._maybe_open[cid] = None
            for key_map in report.intents.values():
                for cid in key_map.values():
                    if cid not in self._orders:  # finished: keep a stub for idempotency
                        stored = self._journal.by_client_id(cid)
                        if stored is not None:
                            self._orders[cid] = self._retag(recovery.restore_order(stored))
            self._pending |= set(report.unresolved)
            return report
