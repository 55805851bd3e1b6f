"""Each object's size, for per-user stored-bytes quotas: ``objects.size``.

Revision ID: 0005
Revises: 0004

``size`` is the encoded value's size in bytes; ``objects.creator`` gets an index, so that a
user's stored bytes are one indexed sum. Inline values' sizes are filled in here; sizes of
values in blob files are filled in when the stores open (``fill_sizes``).
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
        batch.add_column(sa.Column("size", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_objects_creator", "objects", ["creator"])
    op.execute(
        "UPDATE objects SET size = (SELECT length(object_values.data) FROM object_values "
        "WHERE object_values.id = objects.id) "
        "WHERE id IN (SELECT id FROM object_values)"
    )


def downgrade() -> None:
    op.drop_index("ix_objects_creator", table_name="objects")
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("size")
