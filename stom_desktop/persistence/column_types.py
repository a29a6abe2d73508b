"""Column types that behave identically on SQLite and PostgreSQL: aware UTC times and money.

Migrations import these types, so their stored representation is a contract: change
what they write only together with a migration that converts existing rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

MONEY_PRECISION = 28
MONEY_SCALE = 10
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)  # Decimal('1E-10')
# Longest text a Numeric(28, 10) value needs: sign, 18 integer digits, point, 10 decimals.
_MONEY_TEXT_LENGTH = 40


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp; naive datetimes are refused.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so the value is converted
    to UTC and stored as naive ISO text (which also sorts correctly). Both return an aware
    datetime in UTC, equal to what was written (microsecond precision).
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive input; hand the driver UTC (naive UTC for SQLite)."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value!r} cannot be stored: attach a time zone "
                "(e.g. datetime.now(UTC)); timestamps are stored in UTC"
            )
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the driver's session time zone."""
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers return datetimes
            raise TypeError(f"database returned {value!r} for a timestamp column")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An exact decimal (28 digits, 10 after the point) for prices, quantities and fees.

    PostgreSQL stores ``numeric(28, 10)``. SQLite has no exact decimal type: SQLAlchemy's
    ``Numeric`` there silently goes through binary floats, which would corrupt an 18-digit
    quantity, so on SQLite the canonical decimal text is stored instead. Both back-ends
    return ``Decimal`` quantized to 10 places. Floats are refused: binary floats are not
    money; convert with ``Decimal(str(x))`` at the edge where the float came from.
    """

    impl = sa.Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """Text on SQLite (exact), numeric everywhere else."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(_MONEY_TEXT_LENGTH))
        return dialect.type_descriptor(sa.Numeric(MONEY_PRECISION, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | str | None:
        """Check and quantize; SQLite receives fixed-point text."""
        if value is None:
            return None
        quantized = to_money(value)
        return format(quantized, "f") if dialect.name == "sqlite" else quantized

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Always a ``Decimal`` with exactly 10 decimal places."""
        if value is None:
            return None
        return Decimal(value).quantize(_QUANTUM)


def to_money(value: Any) -> Decimal:
    """``value`` (Decimal, int or decimal text) as a Decimal quantized to 10 places.

    Raises ``TypeError`` for floats and ``ValueError`` for NaN, infinity, or a value
    that does not fit 28 digits.
    """
    if isinstance(value, bool | float):
        raise TypeError(
            f"money must be Decimal, int or decimal text, not {type(value).__name__} "
            f"({value!r}); convert with Decimal(str(x)) where the float came from"
        )
    try:
        number = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"money must be finite, got {number}")
    try:
        quantized = number.quantize(_QUANTUM)
    except InvalidOperation:  # more digits than the decimal context holds
        quantized = None
    if quantized is None or len(quantized.as_tuple().digits) > MONEY_PRECISION:
        raise ValueError(
            f"{number} does not fit numeric({MONEY_PRECISION}, {MONEY_SCALE}) "
            f"(at most {MONEY_PRECISION - MONEY_SCALE} digits before the point)"
        )
    return quantized
