"""0003 (2026-12-04): a ``role`` per prediction (``champion`` for every existing row) and one
row per (request id, role), so a record written twice (a spool replay after a commit whose
answer was lost) lands once. Types are spelled out, as in 0001.

Rows already repeating a request id are made unique first: a row that repeats an earlier one
exactly (same request id, timestamp, model and text hash: the old writer retrying a commit that
had gone through) is deleted; a different prediction under a reused request id (a client
sending one X-Request-ID twice) is kept, its request id suffixed with ``#<row id>``, a
character request ids cannot hold.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"

_REPEATS_OF_AN_EARLIER_ROW = """
DELETE FROM predictions WHERE id IN (
    SELECT later.id FROM predictions AS later JOIN predictions AS earlier
    ON later.request_id = earlier.request_id AND later.timestamp = earlier.timestamp
    AND later.model_name = earlier.model_name AND later.model_version = earlier.model_version
    AND later.text_sha256 = earlier.text_sha256 AND earlier.id < later.id
)
"""
# A subquery over the updated table: PostgreSQL and SQLite both read it before the update.
_REUSED_REQUEST_IDS = """
UPDATE predictions SET request_id = substr(request_id, 1, 200) || '#' || CAST(id AS VARCHAR(20))
WHERE id IN (
    SELECT later.id FROM predictions AS later JOIN predictions AS earlier
    ON later.request_id = earlier.request_id AND earlier.id < later.id
)
"""


def upgrade() -> None:
    op.execute(_REPEATS_OF_AN_EARLIER_ROW)
    op.execute(_REUSED_REQUEST_IDS)
    op.add_column(
        "predictions",
        sa.Column("role", sa.String(32), nullable=False, server_default="champion"),
    )
    # The unique index leads with request_id: it serves the lookups the old index did.
    op.drop_index("ix_predictions_request_id", table_name="predictions")
    op.create_index(
        "uq_predictions_request_id_role", "predictions", ["request_id", "role"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_predictions_request_id_role", table_name="predictions")
    op.create_index("ix_predictions_request_id", "predictions", ["request_id"])
    with op.batch_alter_table("predictions") as batch:  # SQLite drops a column by a copy
        batch.drop_column("role")
