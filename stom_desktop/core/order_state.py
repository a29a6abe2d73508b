"""The order state machine: statuses, the one transition table, and its refusal error.

Seven statuses, the ones the journal stores and the issue names. Legal moves::

    NEW              -> SUBMITTED | REJECTED | CANCELLED
    SUBMITTED        -> PARTIALLY_FILLED | FILLED | CANCELLED | REJECTED | EXPIRED
    PARTIALLY_FILLED -> PARTIALLY_FILLED | FILLED | CANCELLED | EXPIRED
    FILLED, CANCELLED, REJECTED, EXPIRED: terminal

There is deliberately **no** ``PENDING_CANCEL`` status. A cancel request in flight does
not change what the venue may still do to the order (fills keep arriving until the venue
confirms), so modelling it as a status would make every late fill an "illegal" transition
out of ``PENDING_CANCEL``. The order carries a ``cancel_requested`` flag instead, and the
status changes only when the venue confirms. This keeps the machine equal to what the
journal persists and what venues report.

``NEW -> CANCELLED`` exists for orders withdrawn before they were sent (kill switch,
auto-cancel while the broker is unreachable). A fill straight from ``NEW`` is refused:
crash recovery that finds a recorded intent already filled at the venue calls ``submit``
first (with the venue's order id), then applies the fills.
"""

from __future__ import annotations

from enum import StrEnum

from stom_desktop.core.errors import BrokerError


class OrderStatus(StrEnum):
    """Life-cycle status of an order."""

    NEW = "new"  # intent recorded, not yet acknowledged by the broker
    SUBMITTED = "submitted"  # accepted by the broker, nothing filled
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        """True when no further transition is possible."""
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """True while the order may still trade or be cancelled."""
        return self not in _TERMINAL


_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

#: The only legal transitions. Anything not listed is refused with ``IllegalTransition``.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset(
        {OrderStatus.SUBMITTED, OrderStatus.REJECTED, OrderStatus.CANCELLED}
    ),
    OrderStatus.SUBMITTED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,  # another partial fill
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,  # the rest cancelled (also IOC remainder)
            OrderStatus.EXPIRED,  # DAY order partly done at the close
        }
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


class IllegalTransition(BrokerError):
    """An order was asked to move between two statuses the state machine does not allow.

    Carries ``client_order_id``, ``from_status`` and ``to_status``. The order is left
    exactly as it was.
    """

    def __init__(
        self, client_order_id: str, from_status: OrderStatus, to_status: OrderStatus
    ) -> None:
        self.from_status = from_status
        self.to_status = to_status
        super().__init__(
            f"illegal transition {from_status.value} -> {to_status.value}",
            client_order_id=client_order_id,
            hint="this is a bug in the caller or an out-of-order broker report",
        )


def can_transition(from_status: OrderStatus, to_status: OrderStatus) -> bool:
    """Whether ``from_status -> to_status`` is in the transition table."""
    return to_status in TRANSITIONS[from_status]


def check_transition(
    client_order_id: str, from_status: OrderStatus, to_status: OrderStatus
) -> None:
    """Raise ``IllegalTransition`` naming the order unless the move is legal."""
    if to_status not in TRANSITIONS[from_status]:
        raise IllegalTransition(client_order_id, from_status, to_status)
