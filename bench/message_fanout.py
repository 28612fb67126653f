"""Broadcast fan-out on PostgreSQL: ccare's set-based fan-out against a same-run plain bulk
insert of the same number of inbox rows.

    python bench/message_fanout.py                         # 200,000 recipients
    python bench/message_fanout.py --recipients 1000000 --json out.json

A fresh database (`ccare_bench_messages` on the server of CCARE_TEST_DATABASE_URL, or
--url; dropped and re-created, tables from the models) gets one merchant, its marketing
template and, set-based, N recipients: 60% with a one-time consent, 20% with a long-term
consent, 20% without any; time zones 90% Asia/Shanghai, 5% Asia/Tokyo, 5% Europe/London;
10% of them already at today's marketing cap (3). The send moment is 20:30 in Shanghai:
Tokyo (21:30) is in quiet hours (deferred to 09:00, state `scheduled`), the others are not.

Measured, in the same process against the same database:

  fan-out   `ccare.messages.fanout.run`: one transaction per batch of recipients, holding
            the broadcast's row, decided by `sending.decide_recipients` in a temporary
            table (recipients without a message of the broadcast, their zones and
            consents), weekly and daily caps (conditional upserts), one-time consents
            spent (conditional UPDATE), quiet hours per zone, refusal counts; then each
            `messages` row inserted once with its outcome and one `message.sent` outbox
            row per sent message, each by one INSERT … SELECT.
  baseline  the same number of rows INSERTed into the same `messages` table (same
            indexes) by `INSERT … SELECT generate_series`, in transactions of the same
            batch size: an inbox with no consent, caps, quiet hours, events or lock.

The baseline runs before and after the fan-out (its rate is the mean of the two); the
tables are ANALYZEd after the first baseline, as autovacuum keeps a live table's statistics.
messages/s = recipients decided (sent + scheduled + refused) per second of wall time.
Checks after the run: every recipient has exactly one row, the outcome counts are the
ones the setup implies, sent rows == message.sent outbox rows, the one-time consents spent
are exactly those of the messages out (none for a refusal), the cap counters hold the
seeded counts plus a day's and a week's count per message out, and a second run decides
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime

from sqlalchemy import func, select, text

import ccare.products  # noqa: F401  (registers every table)
from ccare.core.db import Base, Database
from ccare.core.outbox import OutboxEvent
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind, Tenant
from ccare.merchants.models import Industry, Merchant, MerchantStatus
from ccare.messages import broadcasts, fanout
from ccare.messages.models import (
    CapCounter,
    Category,
    Consent,
    ConsentStatus,
    Message,
    MessageState,
    MessageTemplate,
)
from ccare.messages.schemas import BroadcastCreate, ConsumerList

MERCHANT = 1
AT = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)  # 20:30 Shanghai, 21:30 Tokyo, 12:30 London
FIRST = 1_000_000  # consumer ids FIRST .. FIRST + N - 1


def fresh_postgres(url: str, name: str) -> str:
    base = url.rsplit("/", 1)[0]
    admin = Database(f"{base}/postgres")
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"{base}/{name}"


def seed(db: Database, n: int) -> int:
    """The merchant, its template, consents, zones and counters; returns the template id."""
    with db.transaction() as s:
        s.add(
            Merchant(
                id=MERCHANT,
                name="Tea House",
                slug="tea-house",
                industry=Industry.CATERING,
                status=MerchantStatus.ACTIVE,
                city="Shanghai",
            )
        )
        s.flush()
        template = MessageTemplate(
            merchant_id=MERCHANT,
            name="Weekend",
            category=Category.MARKETING,
            title="{shop} this weekend",
            body="Everything at {price}",
            link="pages/index/index",
            variables=["shop", "price"],
        )
        s.add(template)
        s.flush()
        tid = template.id
        params = {"t": tid, "m": MERCHANT, "first": FIRST, "last": FIRST + n - 1}
        # i % 10: 0-5 once, 6-7 long-term, 8-9 none; i % 20: 1 Tokyo, 2 London;
        # i % 10 == 3: already at today's cap.
        s.execute(
            text(
                "INSERT INTO message_consents (merchant_id, template_id, consumer_id, kind,"
                " status, created_at) SELECT :m, :t, i, CASE WHEN i % 10 < 6 THEN 'once'"
                " ELSE 'long_term' END, 'active', now() FROM generate_series(:first, :last) i"
                " WHERE i % 10 < 8"
            ),
            params,
        )
        s.execute(
            text(
                "INSERT INTO message_recipients (consumer_id, time_zone, updated_at)"
                " SELECT i, CASE WHEN i % 20 = 1 THEN 'Asia/Tokyo' ELSE 'Europe/London' END,"
                " now() FROM generate_series(:first, :last) i WHERE i % 20 IN (1, 2)"
            ),
            params,
        )
        s.execute(
            text(
                "INSERT INTO message_cap_counters (consumer_id, period, count)"
                " SELECT i, p, 3 FROM generate_series(:first, :last) i,"
                " (VALUES ('d:2026-11-24'), ('w:2026-W48')) v(p) WHERE i % 10 = 3"
            ),
            params,
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return tid


def expected(n: int) -> dict[str, int]:
    counts = {"sent": 0, "scheduled": 0, "refused:no_consent": 0, "refused:daily_cap": 0}
    for i in range(FIRST, FIRST + n):
        if i % 10 >= 8:
            key = "refused:no_consent"
        elif i % 10 == 3:
            key = "refused:daily_cap"
        elif i % 20 == 1:
            key = "scheduled"
        else:
            key = "sent"
        counts[key] += 1
    return counts


def baseline(db: Database, tid: int, n: int, batch: int, tag: int) -> float:
    """Plain inbox rows, same table and batch size; returns seconds."""
    start = time.perf_counter()
    for lo in range(0, n, batch):
        with db.transaction() as s:
            s.execute(
                text(
                    "INSERT INTO messages (merchant_id, template_id, consumer_id, request_no,"
                    " category, title, body, link, time_zone, state, created_at, sent_at)"
                    " SELECT :m, :t, i, 'base' || :tag || '-' || i, 'marketing',"
                    " 'Tea House this weekend', 'Everything at 12', 'pages/index/index',"
                    " 'Asia/Shanghai', 'sent', now(), now()"
                    " FROM generate_series(:lo, :hi) i"
                ),
                {
                    "m": MERCHANT,
                    "t": tid,
                    "tag": tag,
                    "lo": FIRST + lo,
                    "hi": FIRST + min(lo + batch, n) - 1,
                },
            )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=fanout.BATCH)
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "CCARE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    n, size = args.recipients, args.batch

    db = Database(fresh_postgres(args.url, "ccare_bench_messages"))
    Base.metadata.create_all(db.engine)
    seed_start = time.perf_counter()
    tid = seed(db, n)
    print(f"seeded {n:,} recipients in {time.perf_counter() - seed_start:.1f} s")

    base_before = baseline(db, tid, n, size, 1)
    # Statistics as a live table has them (autovacuum's ANALYZE), not those of the empty one.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))

    staff = Principal(
        kind=PrincipalKind.OPERATOR,
        id=0,
        tenant=Tenant(frozenset({MERCHANT})),
        merchant_id=MERCHANT,
    )
    data = BroadcastCreate(
        template_id=tid,
        variables={"shop": "Tea House", "price": 12},
        recipients=ConsumerList.model_construct(
            kind="consumers", consumer_ids=list(range(FIRST, FIRST + n))
        ),
        out_request_no="bench-1",
        start=True,
    )
    with db.transaction() as s:
        broadcast_id = broadcasts.create(s, staff, data).id
    start = time.perf_counter()
    progress = fanout.run(db, broadcast_id, size=size, now=AT)
    fan_seconds = time.perf_counter() - start
    again = fanout.run(db, broadcast_id, size=size, now=AT)

    base_after = baseline(db, tid, n, size, 2)
    base_seconds = (base_before + base_after) / 2

    with db.transaction() as s:
        rows = s.scalar(select(func.count()).where(Message.broadcast_id == broadcast_id))
        distinct = s.scalar(
            select(func.count(func.distinct(Message.consumer_id))).where(
                Message.broadcast_id == broadcast_id
            )
        )
        events = s.scalar(select(func.count()).where(OutboxEvent.type == "message.sent"))
        spent = s.scalar(
            select(func.count())
            .select_from(Consent)
            .join(Message, Message.id == Consent.message_id)
            .where(
                Consent.status == ConsentStatus.USED,
                Message.broadcast_id == broadcast_id,
                Message.state.in_((MessageState.SENT, MessageState.SCHEDULED)),
            )
        )
        used = s.scalar(select(func.count()).where(Consent.status == ConsentStatus.USED))
        counted = s.scalar(select(func.sum(CapCounter.count)))
        report = broadcasts.report(s, PLATFORM, broadcast_id)
    want = expected(n)
    once_out = sum(1 for i in range(FIRST, FIRST + n) if i % 10 < 6 and i % 10 != 3)
    seeded_counts = 2 * 3 * sum(1 for i in range(FIRST, FIRST + n) if i % 10 == 3)
    checks = {
        "one row per recipient": rows == distinct == n,
        "outcomes as seeded": progress.outcomes == want,
        "sent rows == message.sent events": events == want["sent"],
        "one-time consents spent == their messages out": spent == used == once_out,
        "cap counts == seeded + 2 per message out": counted
        == seeded_counts + 2 * (want["sent"] + want["scheduled"]),
        "second run decides nothing": again.decided == 0,
        "broadcast done": report.status.value == "done",
    }
    fan_rate = n / fan_seconds
    base_rate = n / base_seconds
    figures = {
        "recipients": n,
        "batch": size,
        "fanout_seconds": round(fan_seconds, 2),
        "fanout_messages_per_s": round(fan_rate),
        "sent_per_s": round(want["sent"] / fan_seconds),
        "baseline_seconds": round(base_seconds, 2),
        "baseline_rows_per_s": round(base_rate),
        "ratio_fanout_to_baseline": round(fan_rate / base_rate, 3),
        "outcomes": progress.outcomes,
        "checks": checks,
    }
    print(
        f"fan-out   {n:,} recipients in {fan_seconds:.2f} s: {fan_rate:,.0f} messages/s "
        f"({want['sent'] / fan_seconds:,.0f} sent/s)"
    )
    print(
        f"baseline  {n:,} plain inbox rows in {base_seconds:.2f} s: {base_rate:,.0f} rows/s "
        f"(before {base_before:.2f} s, after {base_after:.2f} s)"
    )
    print(f"ratio     fan-out / baseline = {fan_rate / base_rate:.3f}")
    print(f"outcomes  {progress.outcomes}")
    for name, ok in checks.items():
        print(f"check     {name}: {'ok' if ok else 'FAILED'}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)
    db.dispose()
    if not all(checks.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
