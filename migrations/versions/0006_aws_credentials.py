"""aws credentials

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 05:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Twilio's Credentials/AWS: a customer's bucket is written only with the customer's own key,
    # never with the server's.
    op.create_table(
        "aws_credentials",
        sa.Column("sid", sa.String(34), primary_key=True),
        sa.Column("account_sid", sa.String(34), sa.ForeignKey("accounts.sid"), nullable=False),
        sa.Column("friendly_name", sa.String(64), nullable=False),
        sa.Column("access_key_id", sa.String(128), nullable=False),
        sa.Column("secret_access_key", sa.String(256), nullable=False),
        sa.Column("date_created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date_updated", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_aws_credentials_account_sid", "aws_credentials", ["account_sid"])
    op.create_index("ix_aws_credentials_date_created", "aws_credentials", ["date_created"])


def downgrade() -> None:
    op.drop_table("aws_credentials")
