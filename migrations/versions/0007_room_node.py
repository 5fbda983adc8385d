"""room placement on a cluster node

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 08:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Which `roomreel serve` node runs a live room: the database is the one place every node
    # agrees on, so claiming a room is a compare-and-set on this column.
    op.add_column("rooms", sa.Column("node_id", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("rooms", "node_id")
