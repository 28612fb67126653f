"""The Redis claim gate (production mode, docs/adr/0010).

One Lua script checks an activity's stock and the claim's limits and takes them in one
atomic step, so a crowd of claims for a hot activity is answered by Redis: only the
claims it admits go on to the database, which stays the durable record and the final
guard (its buckets and counters still refuse anything Redis let through by mistake).

Every key is loaded lazily from the database when Redis does not have it (first use, a
restart, an eviction): the script names the missing keys, they are set with NX from the
committed records, and the claim is tried again. A claim whose transaction rolls back
gives back what it took; `reconcile` resets an activity's stock to the database's. The
drift either can leave is bounded by the claims in flight at the moment of a restart,
and the database refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import event
from sqlalchemy.orm import Session

from ccare.core.errors import Conflict
from ccare.core.redis_pool import redis_client

PREFIX = "ccare:coupons:"
COUNTER_TTL = int(timedelta(days=40).total_seconds())  # longer than any period but life
TICKETS = "coupon_gate_tickets"
RETRIES = 3

_CLAIM = """
local missing = {}
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then table.insert(missing, i) end
end
if #missing > 0 then return {'missing', unpack(missing)} end
if tonumber(redis.call('GET', KEYS[1])) <= 0 then return {'exhausted'} end
for i = 2, #KEYS do
  if tonumber(redis.call('GET', KEYS[i])) >= tonumber(ARGV[i - 1]) then
    return {'limit', i - 1}
  end
end
redis.call('DECR', KEYS[1])
for i = 2, #KEYS do redis.call('INCR', KEYS[i]) end
return {'ok'}
"""
# Give back what a claim took (its transaction rolled back). Keys that were lost since
# are left alone: they will be loaded from the database again.
_UNDO = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCR', KEYS[1]) end
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECR', KEYS[i]) end
end
return 1
"""


@dataclass(frozen=True)
class Limit:
    """One counter a claim must fit under: its Redis key suffix, its limit, and how to
    count it from the database when Redis does not have it."""

    name: str  # e.g. "user:42:d:2026-11-24"
    limit: int
    count: Callable[[], int]
    refusal: Conflict


@dataclass
class Ticket:
    gate: ClaimGate
    keys: list[str]
    undone: bool = field(default=False)


def stock_key(activity_id: int) -> str:
    return f"{PREFIX}{activity_id}:stock"


class ClaimGate:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._claim = client.register_script(_CLAIM)
        self._undo = client.register_script(_UNDO)

    def admit(
        self,
        session: Session,
        activity_id: int,
        stock: Callable[[], int],
        limits: list[Limit],
    ) -> None:
        """Take one unit of stock and one of each limit, or raise the refusal; what is
        taken is given back if `session` rolls back."""
        keys = [stock_key(activity_id)] + [f"{PREFIX}{activity_id}:{x.name}" for x in limits]
        args = [x.limit for x in limits]
        for _ in range(RETRIES):
            answer: list[Any] = self._claim(keys=keys, args=args)
            verdict = _text(answer[0])
            if verdict == "ok":
                session.info.setdefault(TICKETS, []).append(Ticket(self, keys))
                return
            if verdict == "exhausted":
                raise Conflict("no coupons left", code="coupon.stock_exhausted")
            if verdict == "limit":
                raise limits[int(answer[1]) - 1].refusal
            for index in (int(i) for i in answer[1:]):
                value = stock() if index == 1 else limits[index - 2].count()
                ttl = None if index == 1 else COUNTER_TTL
                self.client.set(keys[index - 1], value, nx=True, ex=ttl)
        raise Conflict("the claim could not be taken; retry", code="coupon.claim_busy")

    def sold_out(self, session: Session, activity_id: int) -> None:
        """The database has no stock left: Redis has none either, and this claim's unit is
        not given back when its transaction rolls back."""
        key = stock_key(activity_id)
        tickets: list[Ticket] = session.info.get(TICKETS, [])
        for ticket in tickets:
            if ticket.keys[0] == key:
                ticket.undone = True
        self.client.set(key, 0)

    def give_back(self, ticket: Ticket) -> None:
        if not ticket.undone:
            ticket.undone = True
            self._undo(keys=ticket.keys, args=[])

    def reconcile(self, activity_id: int, remaining: int) -> None:
        """Set the activity's stock in Redis to what the database has left."""
        self.client.set(stock_key(activity_id), remaining)

    def forget(self, activity_id: int) -> None:
        """Drop the activity's stock key: the next claim loads it from the database."""
        self.client.delete(stock_key(activity_id))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_GATES: dict[str, ClaimGate] = {}


def gate_for(redis_url: str | None) -> ClaimGate | None:
    """The gate for this Redis (one client per URL and process); None: the database path."""
    if not redis_url:
        return None
    gate = _GATES.get(redis_url)
    if gate is None:
        gate = _GATES.setdefault(redis_url, ClaimGate(redis_client(redis_url)))
    return gate


@event.listens_for(Session, "after_rollback")
def _give_back(session: Session) -> None:
    for ticket in session.info.pop(TICKETS, []):
        ticket.gate.give_back(ticket)


@event.listens_for(Session, "after_commit")
def _keep(session: Session) -> None:
    session.info.pop(TICKETS, None)
