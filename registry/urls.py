from django.urls import include, path

from registry import views

model_pages = [
    path("", views.model_list, name="models"),
    path("<str:model>/", views.model_detail, name="model"),
    path("<str:model>/<int:version>/", views.model_detail, name="model-version"),
    path("<str:model>/<int:version>/delete/", views.version_delete, name="model-version-delete"),
]
run_pages = [
    path("models/", views.run_models, name="run-models"),
    path("register-model/", views.register_from_run, name="register-model"),
]
urlpatterns = [
    path("w/<str:name>/models/", include(model_pages)),
    path("w/<str:name>/runs/<str:run_id>/", include(run_pages)),
]
