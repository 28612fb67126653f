"""Template texts: `{name}` placeholders, checked when a template is written and filled at
send time (pure functions). `{{` and `}}` stand for literal braces."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ccare.core.errors import InvalidInput

NAME = re.compile(r"[a-z_][a-z0-9_]{0,31}")
MAX_VALUE_LENGTH = 64
# A mini-program page path: "pages/order/detail?id=1"; no scheme, no "..", no "//".
LINK = re.compile(r"^/?[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-.]+)*(\?[A-Za-z0-9_\-=&%.]*)?$")


def _pieces(text: str, field: str) -> list[tuple[str, str]]:
    """[("text", ...), ("var", name), ...]; InvalidInput naming the field and position."""
    pieces: list[tuple[str, str]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "{}" and text[i : i + 2] in ("{{", "}}"):
            literal.append(ch)
            i += 2
            continue
        if ch == "}":
            raise InvalidInput(
                f"{field}: unmatched '}}' at position {i}",
                code="message.template_syntax",
                field=field,
                position=i,
            )
        if ch == "{":
            end = text.find("}", i)
            name = text[i + 1 : end] if end >= 0 else ""
            if end < 0 or not NAME.fullmatch(name):
                raise InvalidInput(
                    f"{field}: a placeholder at position {i} must be {{name}} with a lower-case "
                    "name of letters, digits and _",
                    code="message.template_syntax",
                    field=field,
                    position=i,
                )
            if literal:
                pieces.append(("text", "".join(literal)))
                literal = []
            pieces.append(("var", name))
            i = end + 1
            continue
        literal.append(ch)
        i += 1
    if literal:
        pieces.append(("text", "".join(literal)))
    return pieces


def variables_of(*texts: tuple[str, str]) -> list[str]:
    """The placeholder names of (field, text) pairs, in order of first use."""
    names: list[str] = []
    for field, text in texts:
        for kind, value in _pieces(text, field):
            if kind == "var" and value not in names:
                names.append(value)
    return names


def check_values(declared: list[str], values: Mapping[str, object]) -> dict[str, str]:
    """The values a send gives, checked against the template's placeholders."""
    missing = [n for n in declared if n not in values]
    if missing:
        raise InvalidInput(
            f"missing variables: {', '.join(missing)}",
            code="message.variables_missing",
            missing=missing,
        )
    unknown = sorted(n for n in values if n not in declared)
    if unknown:
        raise InvalidInput(
            f"unknown variables: {', '.join(unknown)} (the template has "
            f"{', '.join(declared) or 'none'})",
            code="message.variables_unknown",
            unknown=unknown,
        )
    checked: dict[str, str] = {}
    for name in declared:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidInput(
                f"variable {name} must be text or a number",
                code="message.variable_invalid",
                variable=name,
            )
        text = str(value)
        if len(text) > MAX_VALUE_LENGTH or "\x00" in text:
            raise InvalidInput(
                f"variable {name} must be at most {MAX_VALUE_LENGTH} characters",
                code="message.variable_invalid",
                variable=name,
            )
        checked[name] = text
    return checked


def fill(text: str, values: Mapping[str, str], field: str = "text") -> str:
    return "".join(
        values[value] if kind == "var" else value for kind, value in _pieces(text, field)
    )


def check_link(link: str | None) -> str | None:
    if link is None or link == "":
        return None
    if len(link) > 200 or not LINK.match(link) or ".." in link:
        raise InvalidInput(
            "link must be a mini-program page path such as pages/order/detail?id=1",
            code="message.link_invalid",
            field="link",
        )
    return link
