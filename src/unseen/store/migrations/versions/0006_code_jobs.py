"""Code requests and their jobs: ``requests.code`` and the ``jobs`` table.

Revision ID: 0006
Revises: 0005

A code request keeps its submission (function, source, inputs, output, hash) in
``requests.code`` (NULL for a request to release an object); each run of an approved one is
a row of ``jobs``, so that a job outlives the client's session and a restart of the node.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("code", sa.JSON(), nullable=True))
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("requester", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("function", sa.String(), nullable=False),
        sa.Column("code_hash", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("result_id", sa.String(), nullable=True),
        sa.Column("logs_id", sa.String(), nullable=True),
        sa.Column("cpu_seconds", sa.Double(), nullable=False),
        sa.Column("wall_seconds", sa.Double(), nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("finished_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_requester", "jobs", ["requester"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_created_at", table_name="jobs")
    op.drop_index("ix_jobs_status", table_name="jobs")
    op.drop_index("ix_jobs_requester", table_name="jobs")
    op.drop_table("jobs")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("code")
