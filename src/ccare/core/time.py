import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

# Alipay-style timestamps (gateway `timestamp`, `notify_time`) are Beijing wall-clock time.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def _real_now() -> datetime:
    return datetime.now(UTC)


_clock: Callable[[], datetime] = _real_now


def utcnow() -> datetime:
    """The platform's time: everything that stores, compares or reports an instant asks
    here, so a simulation can run the platform on a clock of its own (`use_clock`)."""
    return _clock()


def use_clock(clock: Callable[[], datetime] | None) -> None:
    """Run the platform on `clock` from now on; None restores the real clock. For
    simulations and tests only: a server in production never calls it."""
    global _clock
    _clock = clock or _real_now


class SimulatedClock:
    """A clock that starts at `origin` and runs `speed` times as fast as real time (0:
    stands still), and that a simulation can move forward (`advance`, `move_to`) to play
    days in minutes. Never runs backwards."""

    def __init__(self, origin: datetime, speed: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._base = as_utc(origin)
        self._since = time.monotonic()
        self.speed = speed

    def __call__(self) -> datetime:
        with self._lock:
            return self._now()

    def _now(self) -> datetime:
        return self._base + timedelta(seconds=(time.monotonic() - self._since) * self.speed)

    def move_to(self, instant: datetime) -> None:
        with self._lock:
            self._base = max(self._now(), as_utc(instant))
            self._since = time.monotonic()

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._base = self._now() + max(delta, timedelta())
            self._since = time.monotonic()


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
