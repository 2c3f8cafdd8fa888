from django.urls import path

from tracking import views

PREFIX = "mlflow/w/<str:ws>/"

urlpatterns = [
    path(f"{PREFIX}api/2.0/mlflow/<path:route>", views.api, name="mlflow_api"),
    path(f"{PREFIX}ajax-api/2.0/mlflow/<path:route>", views.api),
    path(f"{PREFIX}api/2.0/mlflow-artifacts/artifacts", views.artifact, name="mlflow_artifacts"),
    path(f"{PREFIX}api/2.0/mlflow-artifacts/artifacts/<path:path>", views.artifact),
    path(f"{PREFIX}version", views.version, name="mlflow_version"),
    path(f"{PREFIX}server-info", views.server_info, name="mlflow_server_info"),
]
