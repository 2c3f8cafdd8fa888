"""ASGI entry point: HTTP through Django, WebSockets through Channels, both authenticated."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlstudio.settings")
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402
from django.core.exceptions import SuspiciousFileOperation  # noqa: E402
from django.http import Http404  # noqa: E402

from mlstudio.routing import websocket_urlpatterns  # noqa: E402
from workspaces.consumers import WebsocketAuthMiddleware  # noqa: E402


class StaticFiles(ASGIStaticFilesHandler):
    """Static files; a path that climbs out of them (`..`) is not found, like any other
    missing file, rather than a server error."""

    def serve(self, request):
        try:
            return super().serve(request)
        except SuspiciousFileOperation:
            raise Http404("No such static file.") from None


application = ProtocolTypeRouter(
    {
        "http": StaticFiles(django_asgi),
        "websocket": WebsocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
