"""WebSocket authentication and the workspace event stream."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.security.websocket import AllowedHostsOriginValidator

from mlstudio import live
from mlstudio.errors import UserError
from workspaces.selectors import workspace_get_for_user
from workspaces.services import api_token_authenticate

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class _RequireUser:
    """Refuse the handshake unless the session or an `Authorization: Bearer` header is valid.

    A session cookie is sent by the browser to any site's request, so session connections
    must also come from an allowed Origin; a bearer token is not ambient, so SDK clients need
    no Origin header.
    """

    def __init__(self, inner):
        self.inner = inner
        self.inner_checking_origin = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send):
        header = dict(scope.get("headers", [])).get(b"authorization", b"").decode()
        if header.lower().startswith("bearer "):
            try:
                token = await database_sync_to_async(api_token_authenticate)(raw=header[7:])
            except UserError:
                return await _refuse(receive, send, CLOSE_UNAUTHENTICATED)
            scope["user"], scope["api_token"] = token.user, token
            return await self.inner(scope, receive, send)
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            return await _refuse(receive, send, CLOSE_UNAUTHENTICATED)
        return await self.inner_checking_origin(scope, receive, send)


async def _refuse(receive, send, code: int) -> None:
    message = await receive()
    if message["type"] == "websocket.connect":
        # Closing before accept makes the server answer the handshake with 403.
        await send({"type": "websocket.close", "code": code})


def WebsocketAuthMiddleware(inner):
    return AuthMiddlewareStack(_RequireUser(inner))


class MemberConsumer(AsyncJsonWebsocketConsumer):
    """Base for consumers scoped to a workspace: authorises in connect(), then only forwards."""

    async def connect(self):
        try:
            self.group = await database_sync_to_async(self.authorise)()
        except UserError:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    def authorise(self) -> str:
        raise NotImplementedError

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dispatch(self, message):
        # Channels closes stale database connections before every message, in a thread hop;
        # live events only forward what arrived, so they skip it (one hop per event for each
        # watcher was most of the web server's time under load).
        if message["type"] == "live.event":
            await self.live_event(message)
        else:
            await super().dispatch(message)

    async def live_event(self, message):
        await self.send_json(message["event"])


class WorkspaceConsumer(MemberConsumer):
    """`/ws/workspaces/<name>/`: events for a workspace's pages (run status changes, nodes)."""

    def authorise(self) -> str:
        workspace, _ = workspace_get_for_user(
            user=self.scope["user"],
            name=self.scope["url_route"]["kwargs"]["name"],
            token=self.scope.get("api_token"),
        )
        return live.workspace_group(workspace.pk)
