"""participant subscribe rules

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL is Twilio's default, subscribe to everything.
    op.add_column("participants", sa.Column("subscribe_rules", sa.JSON(), nullable=True))
    op.add_column("participants", sa.Column("subscribe_rules_updated", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("participants", "subscribe_rules_updated")
    op.drop_column("participants", "subscribe_rules")
