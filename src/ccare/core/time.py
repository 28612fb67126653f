from datetime import UTC, date, datetime, timedelta, timezone

# Alipay-style timestamps (gateway `timestamp`, `notify_time`) are Beijing wall-clock time.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def beijing_text(value: datetime) -> str:
    """`yyyy-MM-dd HH:mm:ss` in Beijing time, as the v1 protocol writes timestamps."""
    return as_utc(value).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def parse_beijing_text(text: str) -> datetime:
    """The inverse of `beijing_text`; ValueError when `text` is not `yyyy-MM-dd HH:mm:ss`."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


# Business days (budgets, caps, reports) are local days of the platform: UTC+8, no
# daylight saving.
def local_time(value: datetime | None = None) -> datetime:
    return as_utc(value or utcnow()).astimezone(BEIJING)


def local_date(value: datetime | None = None) -> date:
    return local_time(value).date()


def local_day_start(day: date) -> datetime:
    """The first instant of a local day, in UTC."""
    return datetime.combine(day, datetime.min.time(), tzinfo=BEIJING).astimezone(UTC)
