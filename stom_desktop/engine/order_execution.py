"""The order manager's execution-listener side: adopting the venue's reports.

:class:`ExecutionListenerMixin` implements ``ExecutionListener`` for ``OrderManager``:
``on_order_update`` adopts acceptances and terminal states, ``on_fill`` journals each
execution (deduplicated by venue fill id) and books it into the order, the portfolio and
risk. A report that cannot be applied or journaled never raises into the broker
(``_guard``): it is logged, published as an ``ErrorEvent``, and the order is queued for
reconciliation with the venue (``engine/order_reconcile.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from stom_desktop.core.errors import BrokerError, PersistenceError
from stom_desktop.core.events import ErrorEvent
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import OrderSnapshot
from stom_desktop.engine.order_books import OrderBooks, clone_order, log


class ExecutionListenerMixin(OrderBooks):
    """``on_order_update`` / ``on_fill`` of ``OrderManager`` (see the module doc)."""

    def on_order_update(self, order: OrderSnapshot) -> None:
        """The venue's view changed: adopt acceptance and terminal states (fills via on_fill).

        A report that cannot be applied or journaled never raises into the broker: it is
        logged, published as an ``ErrorEvent``, and the order is queued for
        reconciliation with the venue (``tick``/``reconcile_pending``).
        """
        with self._lock, self._guard(order.client_order_id, "order update"):
            cid = order.client_order_id
            current = self._orders.get(cid)
            if current is None:
                log.warning("order update for unknown order %s (%s)", cid, order.status.value)
                self.unknown_reports.append(order)
                return
            if not current.is_open:
                return  # a late or repeated report about a finished order
            if order.status is OrderStatus.NEW:
                return
            if order.status.is_terminal and order.status is not OrderStatus.FILLED:
                self._sync(
                    cid,
                    replace(
                        order,
                        filled_quantity=current.filled_quantity,
                        avg_fill_price=current.avg_fill_price,
                    ),
                    "venue update",
                )
            elif current.status is OrderStatus.NEW:
                self._mark_submitted(cid, order.venue_order_id, "venue accepted")

    def on_fill(self, fill: Fill) -> None:
        """An execution: journal it, then book it into the order and the portfolio.

        Failures are handled like in ``on_order_update``: the fill stays at the venue and
        reconciliation books it (deduplicated by fill id).
        """
        with self._lock, self._guard(fill.client_order_id, f"fill {fill.fill_id}"):
            if fill.fill_id in self._fill_ids:
                return
            cid = fill.client_order_id
            order = self._orders.get(cid)
            if order is None:
                log.warning("fill %s for unknown order %s", fill.fill_id, cid)
                self.unknown_reports.append(fill)
                return
            if fill.symbol != order.symbol or fill.side is not order.side:
                raise BrokerError(
                    f"fill {fill.fill_id} is {fill.side} {fill.symbol}, "
                    f"the order is {order.side} {order.symbol}",
                    client_order_id=cid,
                )
            if order.status is OrderStatus.NEW:
                self._mark_submitted(cid, None, "filled before the ack")
            trial = clone_order(self._orders[cid])
            status = trial.apply_fill(fill.quantity, fill.price, fill.ts)
            outcome = self._journal.add_fill(
                cid,
                fill.quantity,
                fill.price,
                fee=fill.fee,
                fee_currency=fill.fee_currency or None,
                venue_fill_id=fill.fill_id,
                ts=fill.ts,
                to_status=status.value,
            )
            self._fill_ids.add(fill.fill_id)
            if outcome.duplicate:
                log.warning(
                    "fill %s of %s was already journaled; not booked twice", fill.fill_id, cid
                )
                return
            self._orders[cid] = trial
            self._book_fill(trial, fill)

    @contextmanager
    def _guard(self, cid: str, what: str) -> Iterator[None]:
        try:
            yield
        except (BrokerError, PersistenceError) as exc:
            log.error("could not apply %s of order %s: %s; will reconcile", what, cid, exc)
            if cid in self._orders:
                self._pending.add(cid)
            order = self._orders.get(cid)
            self._bus.publish(
                ErrorEvent(
                    session_id=(order.session_id or "") if order is not None else "",
                    message=f"order {cid}: {what} not applied ({exc}); reconciling with the venue",
                    traceback_text=None,
                    ts_ms=self._clock.now_ms(),
                )
            )
