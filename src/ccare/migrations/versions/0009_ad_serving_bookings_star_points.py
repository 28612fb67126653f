"""ad serving, brand bookings, star points

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 00:33:51.751943
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ad_impressions",
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("consumer_id", sa.BigInteger(), nullable=True),
        sa.Column("placement", sa.String(length=40), nullable=False),
        sa.Column("plan_id", sa.BigInteger(), nullable=True),
        sa.Column("group_id", sa.BigInteger(), nullable=True),
        sa.Column("creative_id", sa.BigInteger(), nullable=False),
        sa.Column("booking_id", sa.BigInteger(), nullable=True),
        sa.Column("grant_id", sa.BigInteger(), nullable=True),
        sa.Column("charge_type", sa.String(length=8), nullable=False),
        sa.Column("price_millifen", sa.BigInteger(), nullable=False),
        sa.Column("cost_millifen", sa.BigInteger(), nullable=False),
        sa.Column("city", sa.String(length=30), nullable=True),
        sa.Column("member_level", sa.String(length=12), nullable=True),
        sa.Column("query", sa.String(length=60), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_impressions")),
        sa.UniqueConstraint("decision_id", "slot", name=op.f("uq_ad_impressions_decision_id_slot")),
    )
    with op.batch_alter_table("ad_impressions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ad_impressions_consumer_time", ["consumer_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ad_impressions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ad_impressions_group_id"), ["group_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ad_impressions_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ad_impressions_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "ad_models",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
        sa.Column("learned_until_id", sa.BigInteger(), nullable=False),
        sa.Column("examples", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_models")),
        sa.UniqueConstraint("kind", name=op.f("uq_ad_models_kind")),
    )
    op.create_table(
        "ad_reserved_terms",
        sa.Column("term", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_reserved_terms")),
        sa.UniqueConstraint("term", name=op.f("uq_ad_reserved_terms_term")),
    )
    with op.batch_alter_table("ad_reserved_terms", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ad_reserved_terms_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "brand_bookings",
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("out_request_no", sa.String(length=64), nullable=False),
        sa.Column("placement", sa.String(length=40), nullable=False),
        sa.Column("creative_id", sa.BigInteger(), nullable=False),
        sa.Column("start_day", sa.Date(), nullable=False),
        sa.Column("end_day", sa.Date(), nullable=False),
        sa.Column("guaranteed", sa.BigInteger(), nullable=False),
        sa.Column("cpm_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "reserved",
                "delivering",
                "completed",
                "cancelled",
                name="bookingstatus",
                native_enum=False,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
        sa.Column("shortfall", sa.BigInteger(), nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brand_bookings")),
        sa.UniqueConstraint(
            "merchant_id",
            "out_request_no",
            name=op.f("uq_brand_bookings_merchant_id_out_request_no"),
        ),
    )
    with op.batch_alter_table("brand_bookings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_brand_bookings_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index(
            "ix_brand_bookings_serving", ["placement", "status", "start_day"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_brand_bookings_status"), ["status"], unique=False)

    op.create_table(
        "brand_bookings_inventory",
        sa.Column("placement", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("forecast", sa.BigInteger(), nullable=False),
        sa.Column("capacity", sa.BigInteger(), nullable=False),
        sa.Column("booked", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("placement", "day", name=op.f("pk_brand_bookings_inventory")),
    )
    op.create_table(
        "star_point_accounts",
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("earned_total", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_total", sa.BigInteger(), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_star_point_accounts")),
        sa.UniqueConstraint("merchant_id", name=op.f("uq_star_point_accounts_merchant_id")),
    )
    op.create_table(
        "star_point_daily_counts",
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("earned", sa.BigInteger(), nullable=False),
        sa.Column("capped", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "merchant_id", "rule", "day", name=op.f("pk_star_point_daily_counts")
        ),
    )
    op.create_table(
        "star_point_entries",
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("consumer_id", sa.BigInteger(), nullable=True),
        sa.Column("grant_id", sa.BigInteger(), nullable=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_star_point_entries")),
        sa.UniqueConstraint("reference", name=op.f("uq_star_point_entries_reference")),
    )
    with op.batch_alter_table("star_point_entries", schema=None) as batch_op:
        batch_op.create_index("ix_star_point_entries_merchant", ["merchant_id", "id"], unique=False)

    op.create_table(
        "star_point_favorites",
        sa.Column("mini_program_id", sa.BigInteger(), nullable=False),
        sa.Column("consumer_id", sa.BigInteger(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "mini_program_id", "consumer_id", name=op.f("pk_star_point_favorites")
        ),
    )
    with op.batch_alter_table("star_point_favorites", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_star_point_favorites_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "star_point_grants",
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("group_id", sa.BigInteger(), nullable=False),
        sa.Column("out_request_no", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("impressions_total", sa.BigInteger(), nullable=False),
        sa.Column("impressions_used", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "exhausted", name="grantstatus", native_enum=False, length=12),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exhausted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_star_point_grants")),
        sa.UniqueConstraint(
            "merchant_id",
            "out_request_no",
            name=op.f("uq_star_point_grants_merchant_id_out_request_no"),
        ),
    )
    with op.batch_alter_table("star_point_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_star_point_grants_merchant_id"), ["merchant_id"], unique=False
        )
        batch_op.create_index("ix_star_point_grants_status", ["status"], unique=False)

    op.create_table(
        "star_point_visits",
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("consumer_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint(
            "merchant_id", "consumer_id", "day", name=op.f("pk_star_point_visits")
        ),
    )
    op.create_table(
        "ad_clicks",
        sa.Column(
            "impression_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("consumer_id", sa.BigInteger(), nullable=True),
        sa.Column("placement", sa.String(length=40), nullable=False),
        sa.Column("plan_id", sa.BigInteger(), nullable=True),
        sa.Column("group_id", sa.BigInteger(), nullable=True),
        sa.Column("creative_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "billed",
                "free",
                "invalid",
                "unfunded",
                name="clickstatus",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("invalid_reason", sa.String(length=40), nullable=True),
        sa.Column("cost_millifen", sa.BigInteger(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["impression_id"],
            ["ad_impressions.id"],
            name=op.f("fk_ad_clicks_impression_id_ad_impressions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_clicks")),
        sa.UniqueConstraint("impression_id", name=op.f("uq_ad_clicks_impression_id")),
    )
    with op.batch_alter_table("ad_clicks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ad_clicks_consumer_time", ["consumer_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ad_clicks_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ad_clicks_merchant_id"), ["merchant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ad_clicks_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "ad_plan_days",
        sa.Column("plan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("spent_millifen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["ad_plans.id"], name=op.f("fk_ad_plan_days_plan_id_ad_plans")
        ),
        sa.PrimaryKeyConstraint("plan_id", "day", name=op.f("pk_ad_plan_days")),
    )
    with op.batch_alter_table("ad_plan_days", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ad_plan_days_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "ad_plan_totals",
        sa.Column("plan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("spent_millifen", sa.BigInteger(), nullable=False),
        sa.Column("billed_fen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["ad_plans.id"], name=op.f("fk_ad_plan_totals_plan_id_ad_plans")
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_ad_plan_totals")),
    )
    with op.batch_alter_table("ad_plan_totals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ad_plan_totals_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "brand_bookings_days",
        sa.Column(
            "booking_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("goal", sa.BigInteger(), nullable=False),
        sa.Column("delivered", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["brand_bookings.id"],
            name=op.f("fk_brand_bookings_days_booking_id_brand_bookings"),
        ),
        sa.PrimaryKeyConstraint("booking_id", "day", name=op.f("pk_brand_bookings_days")),
    )
    op.create_table(
        "ad_conversions",
        sa.Column("merchant_id", sa.BigInteger(), nullable=False),
        sa.Column("out_conversion_no", sa.String(length=64), nullable=False),
        sa.Column("click_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("consumer_id", sa.BigInteger(), nullable=True),
        sa.Column("plan_id", sa.BigInteger(), nullable=True),
        sa.Column("group_id", sa.BigInteger(), nullable=True),
        sa.Column("creative_id", sa.BigInteger(), nullable=False),
        sa.Column("placement", sa.String(length=40), nullable=False),
        sa.Column(
            "source",
            sa.Enum("order", "upload", name="conversionsource", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value_fen", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["click_id"], ["ad_clicks.id"], name=op.f("fk_ad_conversions_click_id_ad_clicks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ad_conversions")),
        sa.UniqueConstraint(
            "merchant_id",
            "out_conversion_no",
            name=op.f("uq_ad_conversions_merchant_id_out_conversion_no"),
        ),
    )
    with op.batch_alter_table("ad_conversions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ad_conversions_click_id"), ["click_id"], unique=False)
        batch_op.create_index(
            "ix_ad_conversions_consumer_plan", ["consumer_id", "plan_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ad_conversions_merchant_id"), ["merchant_id"], unique=False
        )

    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.create_index("ix_segment_members_consumer", ["consumer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("segment_members", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_members_consumer")

    with op.batch_alter_table("ad_conversions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_conversions_merchant_id"))
        batch_op.drop_index("ix_ad_conversions_consumer_plan")
        batch_op.drop_index(batch_op.f("ix_ad_conversions_click_id"))

    op.drop_table("ad_conversions")
    op.drop_table("brand_bookings_days")
    with op.batch_alter_table("ad_plan_totals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_plan_totals_merchant_id"))

    op.drop_table("ad_plan_totals")
    with op.batch_alter_table("ad_plan_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_plan_days_merchant_id"))

    op.drop_table("ad_plan_days")
    with op.batch_alter_table("ad_clicks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_clicks_plan_id"))
        batch_op.drop_index(batch_op.f("ix_ad_clicks_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_ad_clicks_created_at"))
        batch_op.drop_index("ix_ad_clicks_consumer_time")

    op.drop_table("ad_clicks")
    op.drop_table("star_point_visits")
    with op.batch_alter_table("star_point_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_star_point_grants_status")
        batch_op.drop_index(batch_op.f("ix_star_point_grants_merchant_id"))

    op.drop_table("star_point_grants")
    with op.batch_alter_table("star_point_favorites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_star_point_favorites_merchant_id"))

    op.drop_table("star_point_favorites")
    with op.batch_alter_table("star_point_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_star_point_entries_merchant")

    op.drop_table("star_point_entries")
    op.drop_table("star_point_daily_counts")
    op.drop_table("star_point_accounts")
    op.drop_table("brand_bookings_inventory")
    with op.batch_alter_table("brand_bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_brand_bookings_status"))
        batch_op.drop_index("ix_brand_bookings_serving")
        batch_op.drop_index(batch_op.f("ix_brand_bookings_merchant_id"))

    op.drop_table("brand_bookings")
    with op.batch_alter_table("ad_reserved_terms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_reserved_terms_merchant_id"))

    op.drop_table("ad_reserved_terms")
    op.drop_table("ad_models")
    with op.batch_alter_table("ad_impressions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ad_impressions_plan_id"))
        batch_op.drop_index(batch_op.f("ix_ad_impressions_merchant_id"))
        batch_op.drop_index(batch_op.f("ix_ad_impressions_group_id"))
        batch_op.drop_index(batch_op.f("ix_ad_impressions_created_at"))
        batch_op.drop_index("ix_ad_impressions_consumer_time")

    op.drop_table("ad_impressions")
