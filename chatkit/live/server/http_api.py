"""The HTTP side of the server: health, who is online, history, and a send endpoint.

- ``GET /health`` → ``{"status": "ok", ...}``, or 503 when storage fails
- ``POST /api/login {"user", "password"}`` → ``{"ok", "user", "token", "chats", "faults"}``;
  ``POST /api/logout`` revokes the session
- ``GET /api/users`` → ``{"users": [...]}``, the users with a live connection
- ``POST /api/chats/{chat_id}/join`` and ``.../leave`` → ``{"ok", "chat_id"}``
- ``POST /api/chats`` → ``{"ok", "chat_id", "invite_code"}``: a new private chat;
  ``POST /api/chats/{chat_id}/invite {"user"}`` invites someone (the same answer whether
  or not the account exists; they are in once they accept),
  ``POST /api/chats/{chat_id}/invite-code`` replaces the code,
  ``POST /api/invites {"code"}`` (or ``{"chat_id"}``, an invitation) → ``{"ok", "chat_id"}``
  joins; ``GET /api/invites`` → ``{"ok", "invites"}``, those waiting;
  ``DELETE /api/invites/{chat_id}`` declines one
- ``GET /api/chats/{chat_id}/messages`` → ``{"ok", "messages", "has_more"}``: history,
  paged, newest last; ``?limit=&before=SEQ`` pages back, ``?after=SEQ`` pages forward
- ``POST /api/chats/{chat_id}/messages {"client_id", "body"}`` → ``{"ok", "message",
  "created"}``: 201 when stored, 200 when that client id was already stored
- ``GET /api/faults`` reads the fault switches, ``PUT /api/faults {switch: value}`` changes
  them: the host's, with ``Authorization: Bearer <admin token>`` (403 otherwise)

Bodies are JSON objects of at most 64 KiB, sent within ``request_timeout_s``;
JSON nested too deeply is a 400, a bigger body a 413, too many requests a 429, a
trickling body a 408; a ``Host`` the server does not answer to is a 421
(`chatkit.live.server.hosts`), and one connection too many from an address a 503
(`chatkit.live.server.connections`).
Requests that act for someone carry ``Authorization: Bearer <token>`` from
``login`` (over HTTP or Socket.IO: one session, either transport). Errors
are ``{"ok": false, "code", "error"}`` with the status of `chatkit.live.server.errors`.

The send endpoint is the fallback transport: the same service as the Socket.IO
``send``, so it is idempotent on the client id and broadcasts to the room.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatkit.live.server.errors import (
    INTERNAL_ERROR,
    AckLost,
    BadRequest,
    ChatError,
    TooLarge,
    TooSlow,
)
from chatkit.live.server.payloads import (
    SendRequest,
    check_chat_id,
    check_name,
    check_user,
    check_wire_body,
    parse_code,
    parse_history_query,
    parse_login,
)
from chatkit.live.server.service import ChatService
from chatkit.live.server.sessions import Session
from chatkit.live.storage.messages import StoreError
from chatkit.live.wire import message_to_wire

log = logging.getLogger("chatkit.live")

ACK_LOST_REASON = "the answer to this send was lost on the way (an injected fault)"

Endpoint = Callable[[Request], Awaitable[Response]]
Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def create_http_app(service: ChatService, lifespan: Lifespan) -> Starlette:
    """The Starlette app that serves everything that is not Socket.IO."""
    api = _Api(service)
    routes = [
        Route("/health", api.answering(api.health), methods=["GET"]),
        Route("/api/users", api.answering(api.users), methods=["GET"]),
        Route("/api/login", api.answering(api.login), methods=["POST"]),
        Route("/api/logout", api.answering(api.logout), methods=["POST"]),
        Route("/api/chats", api.answering(api.create_chat), methods=["POST"]),
        Route("/api/chats/{chat_id}/join", api.answering(api.join), methods=["POST"]),
        Route("/api/chats/{chat_id}/leave", api.answering(api.leave), methods=["POST"]),
        Route("/api/chats/{chat_id}/invite", api.answering(api.invite), methods=["POST"]),
        Route("/api/chats/{chat_id}/invite-code", api.answering(api.invite_code), methods=["POST"]),
        Route("/api/invites", api.answering(api.accept_invite), methods=["POST"]),
        Route("/api/invites", api.answering(api.invites), methods=["GET"]),
        Route("/api/invites/{chat_id}", api.answering(api.decline_invite), methods=["DELETE"]),
        Route("/api/chats/{chat_id}/messages", api.answering(api.history), methods=["GET"]),
        Route("/api/chats/{chat_id}/messages", api.answering(api.send), methods=["POST"]),
        Route("/api/faults", api.answering(api.faults), methods=["GET", "PUT"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={HTTPException: _no_route})
    app.router.redirect_slashes = False  # a redirect would be built from the Host header
    return app


async def _no_route(request: Request, error: Exception) -> Response:
    """Starlette's own 404 and 405, as JSON with a reason like every other answer."""
    status = error.status_code if isinstance(error, HTTPException) else 400
    path = request.url.path[:80]
    if status == 405:
        given = error.headers if isinstance(error, HTTPException) else None
        allowed = (given or {}).get("Allow", "")
        code, reason = "method_not_allowed", f"{path} takes {allowed or 'other methods'}"
    elif status == 404:
        code, reason = "not_found", f"there is no {path} here; see the README for the endpoints"
    else:
        code, reason = "bad_request", "the request could not be read"
    headers = error.headers if isinstance(error, HTTPException) else None
    return JSONResponse(
        {"ok": False, "code": code, "error": reason}, status_code=status, headers=headers
    )


class _Api:
    def __init__(self, service: ChatService) -> None:
        self.service = service
        self.settings = service.settings
        self.sessions = service.sessions

    def answering(self, endpoint: Endpoint) -> Endpoint:
        """Turn refusals into JSON errors and unexpected failures into a 500, never a trace."""

        async def handle(request: Request) -> Response:
            try:
                return await endpoint(request)
            except ChatError as error:
                return JSONResponse(error.to_json(), status_code=error.status)
            except ClientDisconnect:  # nobody is left to answer, and nothing went wrong here
                return Response(status_code=499)
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path)
                return JSONResponse(INTERNAL_ERROR, status_code=500)

        return handle

    async def health(self, request: Request) -> Response:
        try:
            await self.service.store.check()
        except StoreError as error:
            return JSONResponse({"status": "unavailable", "error": str(error)}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "sessions": len(self.sessions),
                "active_users": len(self.sessions.active_users()),
                "faults_on": self.service.faults.settings.any_on,
            }
        )

    async def users(self, request: Request) -> Response:
        await self._session(request)
        return JSONResponse({"users": self.sessions.active_users()})

    async def login(self, request: Request) -> Response:
        address = _address(request)
        self.sessions.charge_stranger(address)
        login = parse_login(await self._json(request), self.settings)
        if login.token is not None:
            token = login.token
            session = await self.sessions.by_token(token, address)
        else:
            assert login.user is not None and login.password is not None
            session, token = await self.sessions.login(login.user, login.password, address)
        return JSONResponse(await self.service.sign_in_answer(session, token))

    async def logout(self, request: Request) -> Response:
        await self.service.logout(await self._session(request))
        return JSONResponse({"ok": True})

    async def join(self, request: Request) -> Response:
        session = await self._session(request)
        chat_id = self._chat_id(request)
        await self.service.join(session, chat_id)
        return JSONResponse({"ok": True, "chat_id": chat_id})

    async def leave(self, request: Request) -> Response:
        session = await self._session(request)
        chat_id = self._chat_id(request)
        await self.service.leave(session, chat_id)
        return JSONResponse({"ok": True, "chat_id": chat_id})

    async def create_chat(self, request: Request) -> Response:
        chat = await self.service.create_chat(await self._session(request))
        return JSONResponse(
            {"ok": True, "chat_id": chat.chat_id, "invite_code": chat.invite_code},
            status_code=201,
        )

    async def invite(self, request: Request) -> Response:
        session = await self._session(request)
        chat_id = self._chat_id(request)
        user = check_user(_text_field(await self._json(request), "user"), self.settings)
        await self.service.invite(session, chat_id, user)
        return JSONResponse({"ok": True, "chat_id": chat_id, "user": user})

    async def invite_code(self, request: Request) -> Response:
        session = await self._session(request)
        code = await self.service.new_invite_code(session, self._chat_id(request))
        return JSONResponse({"ok": True, "invite_code": code})

    async def accept_invite(self, request: Request) -> Response:
        session = await self._session(request)
        payload = await self._json(request)
        if "code" not in payload and "chat_id" in payload:  # an invitation by name
            chat_id = check_chat_id(_text_field(payload, "chat_id"), self.settings)
            await self.service.join(session, chat_id)
        else:
            chat_id = await self.service.accept_invite(session, parse_code(payload))
        return JSONResponse({"ok": True, "chat_id": chat_id})

    async def invites(self, request: Request) -> Response:
        session = await self._session(request)
        return JSONResponse({"ok": True, "invites": await self.service.pending_invites(session)})

    async def decline_invite(self, request: Request) -> Response:
        session = await self._session(request)
        chat_id = self._chat_id(request)
        await self.service.decline_invite(session, chat_id)
        return JSONResponse({"ok": True, "chat_id": chat_id})

    async def history(self, request: Request) -> Response:
        session = await self._session(request)
        query = parse_history_query(
            request.path_params["chat_id"], request.query_params, self.settings
        )
        page = await self.service.history(session, query)
        return JSONResponse(
            {
                "ok": True,
                "messages": [message_to_wire(message) for message in page.messages],
                "has_more": page.has_more,
            }
        )

    async def send(self, request: Request) -> Response:
        session = await self._session(request)
        chat_id = self._chat_id(request)
        payload = await self._json(request)
        client_id = payload.get("client_id")
        if not isinstance(client_id, str):
            raise BadRequest("the payload needs a 'client_id' that is text")
        if "body" not in payload:
            raise BadRequest("the payload has no 'body'")
        send = SendRequest(
            chat_id,
            check_name(client_id, "client_id", self.settings.max_client_id_chars),
            check_wire_body(payload["body"], self.settings),
        )
        result = await self.service.send(session, send, via="http")
        if result.ack_lost:
            raise AckLost(ACK_LOST_REASON)
        return JSONResponse(
            {"ok": True, "message": message_to_wire(result.message), "created": result.created},
            status_code=201 if result.created else 200,
        )

    async def faults(self, request: Request) -> Response:
        changes = await self._json(request) if request.method == "PUT" else {}
        faults = await self.service.update_faults(self._bearer(request), changes)
        return JSONResponse({"ok": True, "faults": faults})

    # Helpers.

    def _bearer(self, request: Request) -> str | None:
        """The credential after ``Bearer``, exactly as sent: a token with a space or a
        newline added is another string, and is not accepted."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() == "bearer" else None

    async def _session(self, request: Request) -> Session:
        session = await self.sessions.by_token(self._bearer(request), _address(request))
        self.sessions.charge(session)
        return session

    def _chat_id(self, request: Request) -> str:
        return check_chat_id(request.path_params["chat_id"], self.settings)

    async def _json(self, request: Request) -> Mapping[str, object]:
        """The request's JSON object, read with a size limit so a huge body costs nothing."""
        limit = self.settings.max_payload_bytes
        body = bytearray()
        try:
            async with asyncio.timeout(self.settings.request_timeout_s):
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > limit:
                        raise TooLarge(f"the request body is larger than {limit} bytes")
        except TimeoutError:
            raise TooSlow(
                f"the request body did not arrive within {self.settings.request_timeout_s:g} s"
            ) from None
        try:
            payload = json.loads(body)
        except ValueError:  # not JSON, not UTF-8, or a number too long to read
            raise BadRequest("the request body is not valid JSON") from None
        except RecursionError:
            raise BadRequest("the request body is nested too deeply") from None
        if not isinstance(payload, dict):
            raise BadRequest("the request body must be a JSON object")
        return payload


def _address(request: Request) -> str:
    """The client's address: the socket's peer, or what a trusted proxy said it was."""
    return request.client.host if request.client else ""


def _text_field(payload: Mapping[str, object], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise BadRequest(f"the payload needs a {name!r} that is text")
    return value
