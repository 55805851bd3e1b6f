"""Standing approvals of federated fits: ``requests.standing``.

Revision ID: 0007
Revises: 0006

A ``train.approval`` request keeps what it covers (the fit configuration's hash, its public
configuration, the number of fits it releases and those used, the data and target) in
``requests.standing`` (NULL for every other request).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("standing", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("standing")
