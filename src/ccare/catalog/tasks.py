from typing import Any

from sqlalchemy.orm import Session

from ccare.catalog.service import record_sales
from ccare.core.subscribers import subscriber


def _field(entry: Any, name: str) -> Any:
    return entry[name] if isinstance(entry, dict) else getattr(entry, name)


@subscriber("order.paid", name="catalog.count_sales")
def count_sales(session: Session, event: Any) -> None:
    record_sales(
        session, [(int(_field(e, "item_id")), int(_field(e, "quantity"))) for e in event.items]
    )
