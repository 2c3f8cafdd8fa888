"""ASGI entry point: HTTP through Django (static files through whitenoise), WebSockets through
Channels, both authenticated."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlstudio.settings")
django_asgi = get_asgi_application()

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
