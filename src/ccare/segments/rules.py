"""The segment rule tree: pydantic models that validate a rule and publish its JSON Schema.

A rule is a node with exactly one key: a combinator (`all`, `any`, `not`) or a leaf
(`event`, `profile`, `favorited`, `coupon`). `parse()` turns raw JSON into a `RuleNode`
or raises `InvalidRule` naming the failing path (`rule.all[2].event.count.gte`).
Depth and size are checked on the raw JSON first, without recursion, so a hostile
document is refused before pydantic walks it.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from ccare.core.errors import InvalidInput
from ccare.core.time import BEIJING

MAX_DEPTH = 8
MAX_LEAVES = 40
MAX_CHILDREN = 20
MAX_DAYS = 3650
MAX_COUNT = 1_000_000
MAX_ID = 2**62

# Names, channels and labels: letters, digits and a few separators. Nothing else can
# reach the compiler, whose literals Ibis escapes anyway.
TEXT = re.compile(r"^[\w.:-]{1,64}$")

EventType = Literal[
    "order.paid",
    "order.refunded",
    "coupon.claimed",
    "coupon.used",
    "coupon.expired",
    "favorite.added",
    "favorite.removed",
    "storefront.visited",
    "customer.event",
    "message.sent",
    "message.opened",
    "message.clicked",
    "message.converted",
]

# The payload fields a rule may filter on, per event type, and their kinds.
WHERE_FIELDS: dict[str, dict[str, type]] = {
    "order.paid": {"mini_program_id": int, "store_id": int},
    "order.refunded": {"mini_program_id": int, "store_id": int},
    "coupon.claimed": {"activity_id": int, "channel": str},
    "coupon.used": {"activity_id": int},
    "coupon.expired": {"activity_id": int},
    "favorite.added": {"mini_program_id": int, "channel": str},
    "favorite.removed": {"mini_program_id": int, "channel": str},
    "storefront.visited": {"mini_program_id": int, "channel": str},
    "customer.event": {"channel": str},
    "message.sent": {"template_id": int},
    "message.opened": {"template_id": int},
    "message.clicked": {"template_id": int},
    "message.converted": {"template_id": int},
}

NUMERIC_FIELDS = (
    "visits",
    "orders",
    "gmv_fen",
    "favorites",
    "coupons_claimed",
    "coupons_used",
    "recency_days",
    "r_score",
    "f_score",
    "m_score",
)
TEXT_FIELDS = ("rfm_segment", "member_level", "acquisition_channel")
TIME_FIELDS = ("first_seen", "last_seen", "last_order_at")
ProfileField = Literal[
    "visits",
    "orders",
    "gmv_fen",
    "favorites",
    "coupons_claimed",
    "coupons_used",
    "recency_days",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "member_level",
    "acquisition_channel",
    "first_seen",
    "last_seen",
    "last_order_at",
]
ProfileOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "between"]
NUMERIC_OPS: tuple[str, ...] = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "between")
TEXT_OPS: tuple[str, ...] = ("eq", "ne", "in")
TIME_OPS: tuple[str, ...] = ("gt", "gte", "lt", "lte", "between")

Days = Annotated[int, Field(ge=1, le=MAX_DAYS, description="the last N days, up to now")]
Id = Annotated[int, Field(gt=0, lt=MAX_ID)]
Text = Annotated[str, Field(pattern=TEXT.pattern, min_length=1, max_length=64)]


def fail(at: str, message: str) -> PydanticCustomError:
    """An error `at` a field below the model that raises it (pydantic puts model
    validators' errors on the model itself)."""
    return PydanticCustomError("rule", message, {"at": at})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def day_start(value: date) -> datetime:
    return datetime.combine(value, time.min, BEIJING)


def instant(value: date | datetime, *, end: bool = False) -> datetime:
    """A window bound: a date is that day in Beijing time (an end date includes the day);
    a datetime without a zone is Beijing time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=BEIJING)
    return day_start(value + timedelta(days=1) if end else value)


class Window(_Model):
    within_days: Days | None = None
    between: (
        Annotated[
            list[date | datetime],
            Field(
                min_length=2,
                max_length=2,
                description="[from, to]: dates (Beijing days, both included) or datetimes",
            ),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _one_window(self) -> Self:
        if self.within_days is not None and self.between is not None:
            raise fail("between", "give within_days or between, not both")
        if self.between is not None:
            start, stop = instant(self.between[0]), instant(self.between[1], end=True)
            if start >= stop:
                raise fail("between", "the window ends before it starts")
        return self

    def bounds(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        if self.within_days is not None:
            return now - timedelta(days=self.within_days), None
        if self.between is not None:
            return instant(self.between[0]), instant(self.between[1], end=True)
        return None, None


class Count(_Model):
    gte: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None = None
    lte: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None = None
    eq: Annotated[int, Field(ge=0, le=MAX_COUNT)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.gte is None and self.lte is None and self.eq is None:
            raise fail("gte", "give gte, lte or eq")
        if self.eq is not None and (self.gte is not None or self.lte is not None):
            raise fail("eq", "eq cannot be combined with gte or lte")
        if self.gte is not None and self.lte is not None and self.gte > self.lte:
            raise fail("lte", "lte is below gte: no count can match")
        return self

    def matches_zero(self) -> bool:
        low = self.eq if self.eq is not None else (self.gte or 0)
        return low == 0


class EventLeaf(Window):
    """Did the customer do this at least / at most / exactly N times in the window?"""

    type: EventType
    name: Text | None = Field(default=None, description="customer.event only: the event name")
    count: Count = Field(default_factory=lambda: Count(gte=1))
    where: dict[str, Any] = Field(
        default_factory=dict,
        description="payload fields of this event type: a value or a list of values",
        json_schema_extra={
            "additionalProperties": {
                "anyOf": [
                    {"type": "integer"},
                    {"type": "string", "pattern": TEXT.pattern},
                    {"type": "array", "maxItems": MAX_CHILDREN},
                ]
            }
        },
    )

    @model_validator(mode="after")
    def _fields_of_type(self) -> Self:
        if self.name is not None and self.type != "customer.event":
            raise fail("name", "only customer.event has a name")
        known = WHERE_FIELDS[self.type]
        for key, value in self.where.items():
            if key not in known:
                raise fail(
                    f"where.{key}",
                    f"{self.type} cannot be filtered on {key!r}; known: {', '.join(known)}",
                )
            _check_values(f"where.{key}", value, known[key])
        return self

    def values(self, key: str) -> list[Any]:
        value = self.where[key]
        return list(value) if isinstance(value, list) else [value]


def _check_values(at: str, value: Any, kind: type) -> None:
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not 1 <= len(value) <= MAX_CHILDREN:
        raise fail(at, f"give 1 to {MAX_CHILDREN} values")
    for i, v in enumerate(values):
        where = f"{at}[{i}]" if isinstance(value, list) else at
        if kind is int and not (type(v) is int and 0 < v < MAX_ID):
            raise fail(where, "expected a positive integer id")
        if kind is str and not (isinstance(v, str) and TEXT.fullmatch(v)):
            raise fail(where, "expected 1-64 letters, digits, '_', '.', ':' or '-'")


class ProfileLeaf(_Model):
    """A field of the customer's profile with this merchant, compared with a value."""

    field: ProfileField
    op: ProfileOp
    value: Any = Field(
        description="a number, a string, a datetime, or a list for in (values) and between"
        " ([low, high])"
    )

    @model_validator(mode="after")
    def _typed(self) -> Self:
        if self.field in NUMERIC_FIELDS:
            ops, kind = NUMERIC_OPS, "number"
        elif self.field in TEXT_FIELDS:
            ops, kind = TEXT_OPS, "text"
        else:
            ops, kind = TIME_OPS, "time"
        if self.op not in ops:
            raise fail("op", f"{self.field} takes {', '.join(ops)}")
        values = self.value if self.op in ("in", "between") else [self.value]
        if not isinstance(values, list):
            raise fail("value", f"{self.op} takes a list")
        if self.op == "between" and len(values) != 2:
            raise fail("value", "between takes [low, high]")
        if self.op == "in" and not 1 <= len(values) <= MAX_CHILDREN:
            raise fail("value", f"in takes 1 to {MAX_CHILDREN} values")
        parsed = [
            _profile_value(f"value[{i}]" if values is self.value else "value", v, kind)
            for i, v in enumerate(values)
        ]
        if self.op == "between" and parsed[0] > parsed[1]:
            raise fail("value", "between takes [low, high] with low <= high")
        return self

    def operands(self) -> list[Any]:
        kind = "time" if self.field in TIME_FIELDS else "other"
        values = self.value if self.op in ("in", "between") else [self.value]
        return [_profile_value("value", v, kind) for v in values]


def _profile_value(at: str, value: Any, kind: str) -> Any:
    if kind == "number":
        if type(value) is not int or abs(value) >= MAX_ID:
            raise fail(at, "expected an integer")
        return value
    if kind == "text":
        if not isinstance(value, str) or not TEXT.fullmatch(value):
            raise fail(at, "expected 1-64 letters, digits, '_', '.', ':' or '-'")
        return value
    if kind == "time":
        try:
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            parsed = None
        if parsed is None:
            raise fail(at, "expected an ISO 8601 datetime")
        return instant(parsed)
    return value


class FavoritedLeaf(_Model):
    """Without within_days: favorites it now (the latest of favorite.added/removed).
    With within_days: favorited it in the last N days. Without mini_program_id: any of
    the merchant's mini-programs."""

    mini_program_id: Id | None = None
    within_days: Days | None = None


class CouponLeaf(_Model):
    """claimed: claimed one; used: used one (a refund later does not undo it);
    claimed_unused: holds one neither used nor expired now."""

    activity_id: Id | None = Field(default=None, description="omitted: any activity")
    state: Literal["claimed", "used", "claimed_unused"]
    within_days: Days | None = Field(default=None, description="claimed or used recently")

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.within_days is not None and self.state == "claimed_unused":
            raise fail("within_days", "claimed_unused describes now: no window")
        return self


LEAVES = ("event", "profile", "favorited", "coupon")
COMBINATORS = ("all", "any", "not")
Children = Annotated[list["RuleNode"], Field(min_length=1, max_length=MAX_CHILDREN)]


class RuleNode(_Model):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        json_schema_extra={"minProperties": 1, "maxProperties": 1},
    )

    all: Children | None = None
    any: Children | None = None
    not_: RuleNode | None = Field(default=None, alias="not")
    event: EventLeaf | None = None
    profile: ProfileLeaf | None = None
    favorited: FavoritedLeaf | None = None
    coupon: CouponLeaf | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [k for k in ("all", "any", "not_", *LEAVES) if getattr(self, k) is not None]
        if len(given) != 1:
            raise PydanticCustomError(
                "rule",
                "a rule node has exactly one key: all, any, not, event, profile, favorited"
                " or coupon",
            )
        return self

    def leaves(self) -> list[BaseModel]:
        out: list[BaseModel] = []
        stack: list[RuleNode] = [self]
        while stack:
            node = stack.pop()
            for kid in (node.all or []) + (node.any or []) + ([node.not_] if node.not_ else []):
                stack.append(kid)
            leaf = node.event or node.profile or node.favorited or node.coupon
            if leaf is not None:
                out.append(leaf)
        return out


class InvalidRule(InvalidInput):
    code = "segment.invalid_rule"


def path_of(loc: tuple[int | str, ...], at: str = "") -> str:
    """('all', 2, 'event', 'count') -> 'rule.all[2].event.count'."""
    text = "rule"
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return f"{text}.{at}" if at else text


def _check_shape(raw: Any) -> None:
    """Depth and size of the raw document, walked with a stack (no recursion)."""
    stack: list[tuple[Any, tuple[int | str, ...], int]] = [(raw, (), 1)]
    leaves = 0
    while stack:
        node, loc, depth = stack.pop()
        if not isinstance(node, dict):
            continue
        if depth > MAX_DEPTH:
            raise InvalidRule(
                f"{path_of(loc)}: rules nest at most {MAX_DEPTH} levels deep", path=path_of(loc)
            )
        if any(k in node for k in LEAVES):
            leaves += 1
            if leaves > MAX_LEAVES:
                raise InvalidRule(
                    f"{path_of(loc)}: a rule has at most {MAX_LEAVES} conditions",
                    path=path_of(loc),
                )
        kids: list[tuple[Any, tuple[int | str, ...], int]] = []
        for key in ("all", "any"):
            listed = node.get(key)
            if isinstance(listed, list):
                kids.extend((k, (*loc, key, i), depth + 1) for i, k in enumerate(listed[:100]))
        if "not" in node:
            kids.append((node["not"], (*loc, "not"), depth + 1))
        stack.extend(reversed(kids))  # popped in document order: the first excess is named


def parse(raw: Any) -> RuleNode:
    _check_shape(raw)
    try:
        return RuleNode.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {
                "path": path_of(tuple(e["loc"]), (e.get("ctx") or {}).get("at", "")),
                "message": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors(include_url=False, include_input=False)
        ]
        first = errors[0]
        raise InvalidRule(
            f"{first['path']}: {first['message']}", path=first["path"], errors=errors
        ) from None


def json_schema() -> dict[str, Any]:
    generated = RuleNode.model_json_schema()
    defs = generated.get("$defs", {})
    # The root is the node itself (pydantic refers to it, as it is recursive).
    schema = {**defs.get("RuleNode", generated), "$defs": defs}
    schema["title"] = "Segment rule"
    schema["description"] = (
        f"A node with exactly one key. At most {MAX_DEPTH} levels and {MAX_LEAVES} conditions."
    )
    return schema
