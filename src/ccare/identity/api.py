from fastapi import Request

from ccare.core.tenancy import Principal
from ccare.identity import service
from ccare.identity.schemas import ConsumerLogin, Me, SessionToken, StaffLogin
from ccare.web.deps import CurrentPrincipal, DbSession
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1/auth", tags=["auth"])


@router.post("/login", response_model=SessionToken, summary="Staff or operator sign-in")
def login(body: StaffLogin, db: DbSession) -> SessionToken:
    return service.login_staff(db, body.email, body.password)


@router.post("/consumer-login", response_model=SessionToken, summary="Demo consumer sign-in")
def consumer_login(body: ConsumerLogin, db: DbSession) -> SessionToken:
    return service.login_consumer(db, body.consumer_id)


@router.post("/logout", status_code=204, summary="End this session")
def logout(request: Request, db: DbSession, principal: CurrentPrincipal) -> None:
    token = request.headers.get("authorization", "")[7:] or request.cookies.get("ccare_session", "")
    service.logout(db, token)


@router.get("/me", response_model=Me, summary="Who am I")
def me(principal: CurrentPrincipal) -> Me:
    return to_me(principal)


def to_me(p: Principal) -> Me:
    return Me(
        kind=p.kind,
        id=p.id,
        name=p.name,
        merchant_id=p.merchant_id,
        isv_id=p.isv_id,
        role=p.role.value if p.role else None,
        merchant_ids=None if p.tenant.all_merchants else sorted(p.tenant.merchant_ids),
    )
