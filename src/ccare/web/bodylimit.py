"""Refuse request bodies over a size limit, as a plain ASGI middleware.

A declared Content-Length over the limit is answered before the app runs; a body sent
without one (chunked) is counted as it is read and stops the request at the limit.
"""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ccare.web.errors import error_body


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def message(self) -> str:
        return f"body over {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                response = JSONResponse(
                    error_body("payload_too_large", self.message()), status_code=413
                )
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # FastAPI passes its own HTTPException through body parsing untouched.
                raise HTTPException(status_code=413, detail=self.message())
            return message

        await self.app(scope, counted, send)
