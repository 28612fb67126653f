"""The published rule table of 繁星 points: what a merchant's own operation earns, and the
daily cap of each rule. One point is one free ad impression (PV).

Code, not data, like the ad placements: a change of the table is a reviewed release.
"""

from __future__ import annotations

from dataclasses import dataclass

from ccare.web.i18n import N_

# The seed's exchange rate: one visitor (UV) a merchant brings in is worth 300 impressions
# (PV) of public traffic. Belongs in `ccare.config.Settings` once the operator tunes it.
PV_PER_UV = 300

# Channels the merchant operates itself: a visit through them is traffic it brought.
# Values of the catalog's `VisitChannel` (a product never imports another's models).
OWN_CHANNELS: frozenset[str] = frozenset(
    {"offline_qr", "message", "fan_group", "live", "share", "favorites"}
)
# A return on another day within this many days counts as a repeat visit.
REPEAT_WINDOW_DAYS = 30

OWN_CHANNEL_VISITOR = "own_channel_visitor"
REPEAT_VISIT = "repeat_visit"
NEW_FAVORITE = "new_favorite"
REDEEM = "redeem"  # the rule column of a redemption's (negative) entry


@dataclass(frozen=True)
class Rule:
    key: str
    name: str
    description: str
    points: int
    daily_cap: int  # earnings per merchant and local day; more that day earn nothing
    color: str  # of its series in the console chart

    @property
    def daily_cap_points(self) -> int:
        return self.points * self.daily_cap


RULES: tuple[Rule, ...] = (
    Rule(
        OWN_CHANNEL_VISITOR,
        N_("Visitor from your own channels"),
        N_(
            "A customer's first visit of the day to your storefronts came through one of your"
            " own channels: offline QR code, message, fan group, live room, share or favorites."
        ),
        PV_PER_UV,
        3_000,
        "#1677ff",
    ),
    Rule(
        REPEAT_VISIT,
        N_("Repeat visit"),
        N_(
            "A customer who already visited you on an earlier day within the last 30 days"
            " came back: once per customer and day."
        ),
        30,
        5_000,
        "#00a870",
    ),
    Rule(
        NEW_FAVORITE,
        N_("New favorite"),
        N_(
            "A customer added one of your mini-programs to their favorites for the first time"
            " (favoriting again after removing it earns nothing)."
        ),
        100,
        1_000,
        "#f5860f",
    ),
)
BY_KEY: dict[str, Rule] = {r.key: r for r in RULES}
