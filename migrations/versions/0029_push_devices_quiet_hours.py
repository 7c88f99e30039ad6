"""mobile push: devices (a user's push tokens, unique per push service, with the session that
registered them so that ending it removes them), per-user quiet hours, and the queue of pushes
waiting to go (push_outbox; its rows go with their device or notification)

Revision ID: 0029
Revises: 0028
Create Date: 2026-11-29 22:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import office_api.db

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=512), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("app_version", sa.String(length=40), nullable=True),
        sa.Column("session_family", sa.String(length=36), nullable=True),
        sa.Column("created_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_devices_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_devices")),
        sa.UniqueConstraint("platform", "token", name=op.f("uq_devices_platform_token")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index("ix_devices_session_family", ["session_family"], unique=False)
        batch_op.create_index("ix_devices_user", ["user_id"], unique=False)

    op.create_table(
        "quiet_hours",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.Column("updated_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_quiet_hours_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_quiet_hours")),
    )
    op.create_table(
        "push_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("due_at", office_api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("alert", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_push_outbox_device_id_devices"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_push_outbox_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_push_outbox_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_outbox")),
    )
    with op.batch_alter_table("push_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_push_outbox_due", ["due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("push_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_push_outbox_due")

    op.drop_table("push_outbox")
    op.drop_table("quiet_hours")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_user")
        batch_op.drop_index("ix_devices_session_family")

    op.drop_table("devices")
