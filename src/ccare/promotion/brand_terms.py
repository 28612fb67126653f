"""Brand direct-zone terms (品牌专区): the operator reserves a search term for the one
merchant certified as that brand. Another advertiser cannot buy a keyword the term covers,
and a search the term covers shows only the brand's ads, including groups that bought
the keyword before the term was reserved."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ccare.core.errors import NotFound
from ccare.core.tenancy import Principal
from ccare.merchants import service as merchants
from ccare.promotion import decisions
from ccare.promotion.keywords import ReservedTerms, ReservedTermTaken, validate_keyword
from ccare.promotion.models import ReservedTerm
from ccare.promotion.repository import ReservedTermRepository


def table(db: Session) -> ReservedTerms:
    return ReservedTerms({t.term: t.merchant_id for t in ReservedTermRepository(db).all()})


def list_terms(db: Session, actor: Principal) -> list[ReservedTerm]:
    merchants.require_operator(actor)
    return ReservedTermRepository(db).all()


def reserve(
    db: Session, actor: Principal, term: str, merchant_id: int
) -> tuple[ReservedTerm, bool]:
    """(the reservation, whether it is new): the same term for the same brand again is the
    same reservation; for another brand it is `promotion.reserved_term_taken`."""
    merchants.require_operator(actor)
    merchants.get_merchant(db, actor.tenant, merchant_id)
    compact = validate_keyword(term).compact
    repo = ReservedTermRepository(db)
    row = ReservedTerm(term=compact, merchant_id=merchant_id)
    created = repo.add(row)
    if not created:
        existing = repo.by_term(compact)
        assert existing is not None
        if existing.merchant_id != merchant_id:
            raise ReservedTermTaken(
                "this term is already reserved for another brand",
                term=compact,
                merchant_id=existing.merchant_id,
            )
        row = existing
    decisions.invalidate(db)
    return row, created


def release(db: Session, actor: Principal, term_id: int) -> None:
    merchants.require_operator(actor)
    repo = ReservedTermRepository(db)
    row = repo.get(term_id)
    if row is None:
        raise NotFound("no such reserved term", code="promotion.reserved_term_not_found")
    repo.delete(row)
    decisions.invalidate(db)


def check_words(db: Session, words: list[str], merchant_id: int) -> None:
    """Refuse search words covered by a term reserved for another merchant."""
    if not words:
        return
    terms = table(db)
    for word in words:
        terms.check_reserved(word, merchant_id)
