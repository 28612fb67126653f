"""A merchant with templates, and helpers to consent and send as the services would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from ccare.core.db import Database
from ccare.core.errors import DomainError
from ccare.core.tenancy import PLATFORM, Principal, PrincipalKind, Tenant
from ccare.messages import service
from ccare.messages.models import Category, ConsentKind
from ccare.messages.schemas import ConsentCreate, SendRequest, TemplateCreate
from ccare.web.routing import end_refused
from tests.factories import make_consumer, make_merchant

# 10:00 in Shanghai, a Tuesday: outside the default quiet hours (21:00-09:00).
NOON = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
# 22:30 in Shanghai the same day: quiet hours.
LATE = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def staff_of(merchant_id: int) -> Principal:
    return Principal(
        kind=PrincipalKind.OPERATOR,
        id=0,
        name="test",
        tenant=Tenant(frozenset({merchant_id})),
        merchant_id=merchant_id,
    )


def consumer(consumer_id: int) -> Principal:
    return Principal(kind=PrincipalKind.CONSUMER, id=consumer_id, tenant=PLATFORM)


@dataclass
class Shop:
    db: Database
    merchant_id: int
    staff: Principal
    marketing: int
    service: int

    def consent(self, consumer_id: int, template_id: int, kind: str = "once", n: int = 1) -> None:
        with self.db.transaction() as s:
            for _ in range(n):
                data = ConsentCreate(template_id=template_id, kind=ConsentKind(kind))
                service.subscribe(s, consumer(consumer_id), data)

    def send(
        self, consumer_id: int, template_id: int, no: str, now: datetime = NOON, **variables: str
    ) -> str:
        """The outcome: the message's state, or the refusal's code."""
        data = SendRequest(consumer_id=consumer_id, variables=variables, out_request_no=no)
        return send_as_api(self.db, self.staff, template_id, data, now)


def send_as_api(
    db: Database, staff: Principal, template_id: int, data: SendRequest, now: datetime
) -> str:
    """One request's transaction: commit, or end as the API does (a refusal's record
    commits); the message's state or the error's code."""
    s = db.sessionmaker()
    try:
        state = service.send(s, staff, template_id, data, now=now).state.value
        s.commit()
        return state
    except DomainError as exc:
        end_refused(s, exc)
        return exc.code
    finally:
        s.close()


def make_template(db: Database, staff: Principal, name: str, category: Category, **kw: str) -> int:
    data = TemplateCreate(
        name=name,
        category=category,
        title=kw.get("title", "Hello {name}"),
        body=kw.get("body", "Your {thing} is ready"),
        link=kw.get("link", "pages/index/index"),
    )
    with db.transaction() as s:
        return service.create_template(s, staff, data).id


@pytest.fixture
def shop(db: Database) -> Shop:
    merchant = make_merchant(db)
    staff = staff_of(merchant.merchant_id)
    return Shop(
        db=db,
        merchant_id=merchant.merchant_id,
        staff=staff,
        marketing=make_template(db, staff, "Promo", Category.MARKETING),
        service=make_template(db, staff, "Pickup", Category.SERVICE),
    )


@pytest.fixture
def people(db: Database) -> list[int]:
    return [make_consumer(db, name=f"C{i}") for i in range(4)]
