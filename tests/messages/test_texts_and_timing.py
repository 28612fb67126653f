"""Placeholders, links, quiet hours and cap periods (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ccare.core.errors import InvalidInput
from ccare.messages import texts
from ccare.messages.timing import QuietHours, check_zone, slot, zone_for_city

QUIET = QuietHours(21 * 60, 9 * 60)


def test_placeholders_are_found_in_order_and_filled() -> None:
    names = texts.variables_of(
        ("title", "{shop} news"), ("body", "Hi {name}, {shop} has {{deals}}")
    )
    filled = texts.fill("Hi {name}, {shop} has {{deals}}", {"name": "Li", "shop": "Tea"})

    assert names == ["shop", "name"]
    assert filled == "Hi Li, Tea has {deals}"


@pytest.mark.parametrize(
    ("text", "position"),
    [("Hi {Name}", 3), ("Hi {name", 3), ("Hi name}", 7), ("{}", 0), ("{a b}", 0)],
)
def test_bad_placeholders_name_the_position(text: str, position: int) -> None:
    with pytest.raises(InvalidInput) as err:
        texts.variables_of(("body", text))
    assert (err.value.code, err.value.details) == (
        "message.template_syntax",
        {"field": "body", "position": position},
    )


def test_values_are_checked() -> None:
    with pytest.raises(InvalidInput) as missing:
        texts.check_values(["a", "b"], {"a": "1"})
    with pytest.raises(InvalidInput) as unknown:
        texts.check_values(["a"], {"a": "1", "z": "2", "c": 3})
    with pytest.raises(InvalidInput) as too_long:
        texts.check_values(["a"], {"a": "x" * 65})

    assert missing.value.details == {"missing": ["b"]}
    assert unknown.value.details == {"unknown": ["c", "z"]}
    assert too_long.value.code == "message.variable_invalid"
    assert texts.check_values(["a", "n"], {"a": "x", "n": 12}) == {"a": "x", "n": "12"}


@pytest.mark.parametrize(
    "link", ["https://x.test", "//evil", "pages/../admin", "pages/a b", "javascript:alert(1)"]
)
def test_links_must_be_page_paths(link: str) -> None:
    with pytest.raises(InvalidInput):
        texts.check_link(link)


def test_page_paths_are_links() -> None:
    assert (
        texts.check_link("pages/order/detail?id=1&from=msg") == "pages/order/detail?id=1&from=msg"
    )
    assert texts.check_link("") is None


@pytest.mark.parametrize(
    ("utc", "zone", "due", "deferred", "day", "week"),
    [
        # 10:00 Shanghai: now.
        (
            "2026-11-24T02:00",
            "Asia/Shanghai",
            "2026-11-24T02:00",
            False,
            "d:2026-11-24",
            "w:2026-W48",
        ),
        # 20:59 Shanghai: still allowed.
        (
            "2026-11-24T12:59",
            "Asia/Shanghai",
            "2026-11-24T12:59",
            False,
            "d:2026-11-24",
            "w:2026-W48",
        ),
        # 21:00 Shanghai: to 09:00 the next day.
        (
            "2026-11-24T13:00",
            "Asia/Shanghai",
            "2026-11-25T01:00",
            True,
            "d:2026-11-25",
            "w:2026-W48",
        ),
        # 03:00 Shanghai: to 09:00 the same day.
        (
            "2026-11-24T19:00",
            "Asia/Shanghai",
            "2026-11-25T01:00",
            True,
            "d:2026-11-25",
            "w:2026-W48",
        ),
        # Sunday 22:00 Shanghai: Monday 09:00, the next ISO week.
        (
            "2026-11-29T14:00",
            "Asia/Shanghai",
            "2026-11-30T01:00",
            True,
            "d:2026-11-30",
            "w:2026-W49",
        ),
        # The same instant is 14:00 in London: now.
        (
            "2026-11-29T14:00",
            "Europe/London",
            "2026-11-29T14:00",
            False,
            "d:2026-11-29",
            "w:2026-W48",
        ),
    ],
)
def test_slots(utc: str, zone: str, due: str, deferred: bool, day: str, week: str) -> None:
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    got = slot(now, zone, QUIET)
    assert (got.due_at, got.deferred, got.day, got.week) == (
        datetime.fromisoformat(due).replace(tzinfo=UTC),
        deferred,
        day,
        week,
    )


def test_daytime_quiet_window_and_none() -> None:
    lunch = QuietHours(12 * 60, 13 * 60)
    at = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)  # 12:30 Shanghai
    assert slot(at, "Asia/Shanghai", lunch).due_at == datetime(2026, 11, 24, 5, 0, tzinfo=UTC)
    assert slot(at, "Asia/Shanghai", QuietHours(0, 0)).deferred is False


def test_zones() -> None:
    assert (zone_for_city("Hangzhou"), zone_for_city("Hong Kong"), zone_for_city(None)) == (
        "Asia/Shanghai",
        "Asia/Hong_Kong",
        "Asia/Shanghai",
    )
    assert check_zone("Europe/London") == "Europe/London"
    for bad in ("UTC+8", "Mars/Base", "../etc"):
        with pytest.raises(InvalidInput):
            check_zone(bad)
