"""A revoked ISV grant ends the app auth tokens issued on it.

Calls with such a token are refused at once anyway (the grant is checked on every call);
this keeps the tokens' own status, which both consoles list, in step.
"""

from sqlalchemy.orm import Session

from ccare.core.subscribers import subscriber
from ccare.isvs.schemas import IsvRevoked
from ccare.openplatform import service


@subscriber("isv.revoked", name="openplatform.revoke_tokens")
def revoke_tokens(db: Session, event: IsvRevoked) -> None:
    service.revoke_tokens_of_grant(db, event.grant_id)
