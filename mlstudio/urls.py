from django.contrib import admin
from django.urls import include, path

from mlstudio import views
from mlstudio.api import api

admin.site.site_header = "MLStudio administration"
admin.site.site_title = "MLStudio admin"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("runs.urls")),
    path("", include("registry.urls")),
    path("", include("data.urls")),
    path("", include("compute.urls")),
    path("", include("environments.urls")),
    path("", include("workspaces.urls")),
    path("", include("tracking.urls")),
]
