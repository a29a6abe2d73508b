"""The migrations build exactly the schema the models describe, on both back-ends."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from stom_desktop.persistence import Database
from stom_desktop.persistence.models import Base


def _differences(db: Database, metadata: sa.MetaData) -> list[object]:
    with db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_migrated_schema_matches_the_models(db: Database) -> None:
    assert _differences(db, Base.metadata) == []


def test_parity_check_does_see_a_difference(db: Database) -> None:
    # Guard against a comparison that can never fail: a model change must show up.
    changed = sa.MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["bars"].append_column(sa.Column("vwap", sa.Double(), nullable=True))
    sa.Table("extra", changed, sa.Column("id", sa.Integer, primary_key=True))
    diffs = _differences(db, changed)
    kinds = {(d[0], getattr(d[-1], "name", None)) for d in diffs if isinstance(d, tuple)}
    assert ("add_column", "vwap") in kinds
    assert ("add_table", "extra") in kinds
