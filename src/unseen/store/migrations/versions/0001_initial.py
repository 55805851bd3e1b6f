"""The first schema: objects, requests, handlers, datasets and users.

Revision ID: 0001
Revises: (none)

Containers are plain JSON columns here; ``unseen.store._sql_json`` gives them their Python
types when read. Migrations never import the live schema, so that they keep describing the
schema of their own time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.String(), nullable=False)


def _created_at() -> sa.Column:
    return sa.Column("created_at", sa.Double(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "objects",
        _id(),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("creator", sa.String(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("parents", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("searchable", sa.Boolean(), nullable=False),
        sa.Column("public_meta", sa.JSON(), nullable=False),
        sa.Column("mock_id", sa.String(), nullable=True),
        sa.Column("dataset", sa.String(), nullable=True),
        sa.Column("readers", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("failed_op", sa.String(), nullable=True),
        sa.Column("recipe", sa.JSON(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_objects"),
    )
    op.create_index("ix_objects_created_at", "objects", ["created_at"])

    op.create_table(
        "requests",
        _id(),
        sa.Column("object_id", sa.String(), nullable=False),
        sa.Column("requester", sa.String(), nullable=False),
        sa.Column("requester_name", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("graph", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("deny_reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=False),
        _created_at(),
        sa.Column("decided_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_requests"),
    )
    op.create_index("ix_requests_created_at", "requests", ["created_at"])
    op.create_index("ix_requests_object_id", "requests", ["object_id"])
    op.create_index("ix_requests_requester", "requests", ["requester"])

    op.create_table(
        "handlers",
        _id(),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("requester", sa.String(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_handlers"),
    )
    op.create_index("ix_handlers_created_at", "handlers", ["created_at"])

    op.create_table(
        "datasets",
        _id(),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("citation", sa.Text(), nullable=False),
        sa.Column("assets", sa.JSON(), nullable=False),
        sa.Column("uploader", sa.String(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
    )
    op.create_index("ix_datasets_created_at", "datasets", ["created_at"])

    op.create_table(
        "users",
        _id(),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("budget", sa.Double(), nullable=False),
        sa.Column("spent", sa.Double(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_index("ix_users_created_at", "users", ["created_at"])


def downgrade() -> None:
    for table in ("users", "datasets", "handlers", "requests", "objects"):
        op.drop_index(f"ix_{table}_created_at", table_name=table)
    op.drop_index("ix_requests_requester", table_name="requests")
    op.drop_index("ix_requests_object_id", table_name="requests")
    for table in ("users", "datasets", "handlers", "requests", "objects"):
        op.drop_table(table)
