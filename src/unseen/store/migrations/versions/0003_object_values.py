"""Small object values inline: the ``object_values`` table.

Revision ID: 0003
Revises: 0002

An object whose encoded value is small keeps it in this table, written in the same
transaction as its ``objects`` row, instead of in a blob file of its own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "object_values",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_object_values"),
    )


def downgrade() -> None:
    # values of objects that were kept inline are lost with the table: their rows go too
    op.execute("DELETE FROM objects WHERE id IN (SELECT id FROM object_values)")
    op.drop_table("object_values")
