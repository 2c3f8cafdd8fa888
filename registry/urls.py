from django.urls import path

from registry import views

urlpatterns = [
    path("w/<str:name>/models/", views.model_list, name="models"),
    path("w/<str:name>/models/<str:model>/", views.model_detail, name="model"),
    path(
        "w/<str:name>/models/<str:model>/<int:version>/",
        views.model_detail,
        name="model-version",
    ),
    path(
        "w/<str:name>/models/<str:model>/<int:version>/delete/",
        views.version_delete,
        name="model-version-delete",
    ),
    path("w/<str:name>/runs/<str:run_id>/models/", views.run_models, name="run-models"),
    path(
        "w/<str:name>/runs/<str:run_id>/register-model/",
        views.register_from_run,
        name="register-model",
    ),
]
