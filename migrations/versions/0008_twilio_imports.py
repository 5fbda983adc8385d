"""queued twilio imports

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 12:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `roomreel import-twilio --queue`: one job per room, claimed and retried like a composition,
    # so a large import spreads over the workers and survives any of them dying.
    op.create_table(
        "twilio_imports",
        sa.Column("sid", sa.String(34), primary_key=True),
        sa.Column("account_sid", sa.String(34), sa.ForeignKey("accounts.sid"), nullable=False),
        sa.Column("api_url", sa.Text(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password", sa.String(128), nullable=True),
        sa.Column("source_account_sid", sa.String(34), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_completed", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_twilio_imports_account_sid", "twilio_imports", ["account_sid"])
    op.create_table(
        "twilio_import_rooms",
        sa.Column("import_sid", sa.String(34), sa.ForeignKey("twilio_imports.sid"), nullable=False),
        sa.Column("room_sid", sa.String(34), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("recordings", sa.Integer(), nullable=False),
        sa.Column("compositions", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("not_copied", sa.JSON(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("date_completed", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("import_sid", "room_sid"),
    )
    op.create_index("ix_twilio_import_rooms_status", "twilio_import_rooms", ["status"])


def downgrade() -> None:
    op.drop_table("twilio_import_rooms")
    op.drop_table("twilio_imports")
