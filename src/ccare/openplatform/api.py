from typing import Annotated, Any, Literal, Self

from fastapi import Path, Query, Response
from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

from ccare.core.signing import SignAlgorithm
from ccare.core.time import beijing_text
from ccare.openplatform import sandbox, service
from ccare.openplatform.schemas import (
    AppCreate,
    AppOut,
    AppTokenOut,
    AppUpdate,
    AuthCodeOut,
    AuthorizeApp,
    KeyOut,
    KeyUpload,
    PlatformKeyOut,
    SandboxAccountOut,
    TokenInfo,
    TokenOut,
    TokenQuery,
    TokenRequest,
)
from ccare.web.deps import CurrentPrincipal, CurrentStaff, DbSession, IdPath
from ccare.web.gateway import GatewayContext, gateway_method
from ccare.web.gateway.registry import methods_in
from ccare.web.routing import api_router

router = api_router(prefix="/api/v1", tags=["openplatform"])

AppIdPath = Annotated[str, Path(pattern=r"^[0-9]{16}$", description="16-digit app id")]


@router.post("/apps", response_model=AppOut, status_code=201, summary="Create a developer app")
def create_app(body: AppCreate, db: DbSession, staff: CurrentStaff) -> AppOut:
    return AppOut.model_validate(service.create_app(db, staff, body))


@router.get("/apps", response_model=list[AppOut], summary="Your apps (operator: all)")
def list_apps(db: DbSession, principal: CurrentPrincipal) -> list[AppOut]:
    return [AppOut.model_validate(a) for a in service.list_apps(db, principal)]


@router.get("/apps/{app_id}", response_model=AppOut, summary="One app")
def get_app(app_id: AppIdPath, db: DbSession, principal: CurrentPrincipal) -> AppOut:
    return AppOut.model_validate(service.get_app(db, principal, app_id))


@router.patch("/apps/{app_id}", response_model=AppOut, summary="Rename, re-scope, disable")
def update_app(app_id: AppIdPath, body: AppUpdate, db: DbSession, staff: CurrentStaff) -> AppOut:
    return AppOut.model_validate(service.update_app(db, staff, app_id, body))


@router.get("/apps/{app_id}/keys", response_model=list[KeyOut], summary="The app's public keys")
def list_keys(app_id: AppIdPath, db: DbSession, principal: CurrentPrincipal) -> list[KeyOut]:
    return [KeyOut.model_validate(k) for k in service.list_keys(db, principal, app_id)]


@router.post(
    "/apps/{app_id}/keys",
    response_model=KeyOut,
    status_code=201,
    summary="Register a new public key; the old one stays valid for overlap_hours",
)
def upload_key(app_id: AppIdPath, body: KeyUpload, db: DbSession, staff: CurrentStaff) -> KeyOut:
    return KeyOut.model_validate(service.upload_key(db, staff, app_id, body))


@router.post(
    "/apps/{app_id}/keys/{key_id}/revoke", response_model=KeyOut, summary="Stop accepting a key"
)
def revoke_key(app_id: AppIdPath, key_id: IdPath, db: DbSession, staff: CurrentStaff) -> KeyOut:
    return KeyOut.model_validate(service.revoke_key(db, staff, app_id, key_id))


@router.get(
    "/platform-key",
    response_model=PlatformKeyOut,
    summary="The platform's public key: verifies responses and notifications",
)
def platform_key(
    db: DbSession,
    algorithm: SignAlgorithm = SignAlgorithm.RSA2,
    format: Annotated[Literal["spki", "pkcs1", "base64"], Query()] = "spki",
) -> PlatformKeyOut:
    return service.platform_public_key(db, algorithm, format)


@router.post(
    "/app-authorizations",
    response_model=AuthCodeOut,
    status_code=201,
    summary="Merchant: let an ISV's app act for you; returns a single-use app_auth_code",
)
def authorize_app(body: AuthorizeApp, db: DbSession, staff: CurrentStaff) -> AuthCodeOut:
    return service.authorize_app(db, staff, body)


@router.post(
    "/app-auth/token",
    response_model=TokenOut,
    summary="App: exchange an app_auth_code, or refresh, for an app_auth_token",
)
def token(body: TokenRequest, db: DbSession, principal: CurrentPrincipal) -> TokenOut:
    if body.grant_type == "authorization_code":
        return service.exchange_code(db, principal, body.code or "")
    return service.refresh_token(db, principal, body.refresh_token or "")


@router.post("/app-auth/token/query", response_model=TokenInfo, summary="App: what a token allows")
def token_query(body: TokenQuery, db: DbSession, principal: CurrentPrincipal) -> TokenInfo:
    return service.token_info(db, principal, body.app_auth_token)


@router.get(
    "/app-auth/tokens",
    response_model=list[AppTokenOut],
    summary="Tokens issued on your grants (merchant) or to your apps (ISV)",
)
def list_tokens(db: DbSession, staff: CurrentStaff) -> list[AppTokenOut]:
    return service.list_tokens(db, staff)


@router.get(
    "/openplatform/verify",
    status_code=204,
    response_class=Response,
    summary="Check a signed call and nothing else: 204 when it verifies (unsigned, no body)",
)
async def verify_only(principal: CurrentPrincipal) -> Response:
    return Response(status_code=204)


@router.get(
    "/openplatform/whoami",
    summary="Verify a signed call and say who it acts as (no other work)",
)
async def whoami(principal: CurrentPrincipal) -> dict[str, object]:
    # No I/O: async keeps the benchmarked verify-only call off the thread pool.
    return {
        "app_id": principal.app_id,
        "kind": principal.kind.value,
        "merchant_id": principal.merchant_id,
        "scopes": sorted(principal.scopes) if principal.scopes is not None else None,
    }


# --- the v1 gateway: alipay.open.auth.token.app(.query) -------------------------------------


class _Biz(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True)


class TokenAppBiz(_Biz):
    grant_type: Literal["authorization_code", "refresh_token"]
    code: Annotated[str, StringConstraints(max_length=100)] | None = None
    refresh_token: Annotated[str, StringConstraints(max_length=100)] | None = None

    @model_validator(mode="after")
    def _credential(self) -> Self:
        field = "code" if self.grant_type == "authorization_code" else "refresh_token"
        if not getattr(self, field):
            raise PydanticCustomError("missing", f"{field} is required with this grant_type")
        return self


class TokenQueryBiz(_Biz):
    app_auth_token: Annotated[str, StringConstraints(min_length=1, max_length=100)]


@gateway_method("alipay.open.auth.token.app", scope=None, biz=TokenAppBiz)
def gateway_token(ctx: GatewayContext, biz: TokenAppBiz) -> dict[str, Any]:
    if biz.grant_type == "authorization_code":
        out = service.exchange_code(ctx.db, ctx.principal, biz.code or "")
    else:
        out = service.refresh_token(ctx.db, ctx.principal, biz.refresh_token or "")
    fields = out.model_dump(
        include={
            "app_auth_token",
            "app_refresh_token",
            "auth_app_id",
            "user_id",
            "expires_in",
            "re_expires_in",
        }
    )
    # Older SDKs read the fields at the top, newer ones the `tokens` list.
    return {**fields, "tokens": [fields]}


@gateway_method("alipay.open.auth.token.app.query", scope=None, biz=TokenQueryBiz)
def gateway_token_query(ctx: GatewayContext, biz: TokenQueryBiz) -> dict[str, Any]:
    info = service.token_info(ctx.db, ctx.principal, biz.app_auth_token)
    return {
        "user_id": info.user_id,
        "auth_app_id": info.auth_app_id,
        "expires_in": info.expires_in,
        "auth_methods": methods_in(frozenset(info.scopes)),
        "auth_start": beijing_text(info.auth_start),
        "auth_end": beijing_text(info.auth_end),
        "status": info.status,
    }


@router.get(
    "/sandbox/account",
    response_model=SandboxAccountOut,
    summary="Sandbox only: your twin merchant, its mini-program and buyers with test money",
)
def sandbox_account(db: DbSession, staff: CurrentStaff) -> SandboxAccountOut:
    return sandbox.describe(db, staff)


@router.post(
    "/sandbox/app-authorizations",
    response_model=AuthCodeOut,
    status_code=201,
    summary="Sandbox only: your twin merchant authorises your ISV's sandbox app",
)
def sandbox_authorize(body: AuthorizeApp, db: DbSession, staff: CurrentStaff) -> AuthCodeOut:
    return sandbox.authorize_own_app(db, staff, body)
