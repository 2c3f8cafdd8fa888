from django.urls import path

from runs import views

urlpatterns = [
    path("w/<str:name>/", views.workspace_home, name="workspace"),
    path("w/<str:name>/experiments/", views.experiment_list, name="experiments"),
    path(
        "w/<str:name>/experiments/<int:experiment_id>/", views.experiment_detail, name="experiment"
    ),
    path("w/<str:name>/runs/<str:run_id>/", views.run_detail, name="run"),
    path("w/<str:name>/submit/", views.submit_page, name="submit"),
]
