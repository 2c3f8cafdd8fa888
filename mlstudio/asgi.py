"""ASGI entry point: HTTP through Django (static files through whitenoise), WebSockets through
Channels, both authenticated."""

import os

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlstudio.settings")


class StudioASGIHandler(ASGIHandler):
    # Django sends a response body in messages of chunk_size (64 KiB), each a copy of its
    # slice; a file download's 1 MiB blocks (data/api.py) go out whole instead.
    chunk_size = 2**20


django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application does
django_asgi = StudioASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from mlstudio.routing import websocket_urlpatterns  # noqa: E402
from mlstudio.sqlite_keep import keep_open  # noqa: E402
from workspaces.consumers import WebsocketAuthMiddleware  # noqa: E402

keep_open()

application = ProtocolTypeRouter(
    {
        "http": django_asgi,  # static files: whitenoise, in the middleware
        "websocket": WebsocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
