"""Money and date helpers of the templates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ccare.web.templating import env, fen, parse_yuan, yuan_input


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (1234, "¥12.34"),
        (0, "¥0.00"),
        (5, "¥0.05"),
        (123456789, "¥1,234,567.89"),
        (-1230, "-¥12.30"),
        (None, "—"),
    ],
)
def test_fen(amount: int | None, text: str) -> None:
    assert fen(amount) == text


def test_fen_with_sign() -> None:
    assert fen(500, sign=True) == "+¥5.00"
    assert fen(-500, sign=True) == "-¥5.00"


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("12.34", 1234),
        ("12", 1200),
        ("12.3", 1230),
        (".5", 50),
        ("¥1,234.56", 123456),
        (" 0.01 ", 1),
        ("", None),
        ("abc", None),
        ("1.234", None),
        ("-1", None),
        ("1e3", None),
        (None, None),
    ],
)
def test_parse_yuan(text: str | None, amount: int | None) -> None:
    assert parse_yuan(text) == amount


def test_yuan_input_round_trips() -> None:
    assert yuan_input(1230) == "12.30"
    assert parse_yuan(yuan_input(98765)) == 98765


def test_dates_are_shown_in_china_time_per_locale() -> None:
    moment = datetime(2026, 1, 31, 17, 5, tzinfo=UTC)  # 01:05 on Feb 1st in Shanghai
    template = env.from_string("{{ t | datetime }}|{{ t | date }}")
    assert template.render(t=moment, locale="zh_CN") == "2026-02-01\u00a001:05|2026年2月1日"
    assert template.render(t=moment, locale="en") == "2026-02-01\u00a001:05|Feb 1, 2026"


def test_labels_and_plurals_follow_the_locale() -> None:
    template = env.from_string(
        "{{ 'paid' | label }} {{ ngettext('%(num)d item', '%(num)d items', n) }}"
    )
    assert template.render(locale="en", n=1) == "Paid 1 item"
    assert template.render(locale="en", n=3) == "Paid 3 items"
    assert template.render(locale="zh_CN", n=3) == "已支付 共 3 件商品"
