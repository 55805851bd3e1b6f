"""Each object's size, for per-user stored-bytes quotas: ``objects.size``.

Revision ID: 0005
Revises: 0004

``size`` is what an object counts against its creator's stored bytes (its encoded size, or 0
when it derives from others' data: ``unseen.store._records.counted_size``); ``objects.creator``
gets an index, so that a user's stored bytes are one indexed sum. Existing rows get -1 (not
known yet): the stores fill them in when they open (``fill_sizes``), once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.add_column(sa.Column("size", sa.BigInteger(), nullable=False, server_default="-1"))
    op.create_index("ix_objects_creator", "objects", ["creator"])


def downgrade() -> None:
    op.drop_index("ix_objects_creator", table_name="objects")
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("size")
