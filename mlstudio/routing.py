from django.urls import path

from runs.consumers import RunConsumer
from workspaces.consumers import WorkspaceConsumer

websocket_urlpatterns = [
    path("ws/workspaces/<str:name>/", WorkspaceConsumer.as_asgi()),
    path("ws/runs/<str:run_id>/", RunConsumer.as_asgi()),
]
