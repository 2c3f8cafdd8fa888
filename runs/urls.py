from django.urls import include, path

from runs import tensorboard_views, views

tensorboard_pages = [
    path("", tensorboard_views.tensorboard_open, name="tensorboard"),
    path("<str:key>/", tensorboard_views.tensorboard_proxy, name="tensorboard_proxy"),
    path("<str:key>/<path:path>", tensorboard_views.tensorboard_proxy),
]
urlpatterns = [
    path("w/<str:name>/", views.workspace_home, name="workspace"),
    path("w/<str:name>/experiments/", views.experiment_list, name="experiments"),
    path(
        "w/<str:name>/experiments/<int:experiment_id>/", views.experiment_detail, name="experiment"
    ),
    path("w/<str:name>/runs/<str:run_id>/", views.run_detail, name="run"),
    path(
        "w/<str:name>/runs/<str:run_id>/children-table/",
        views.run_children_table,
        name="run_children_table",
    ),
    path("w/<str:name>/submit/", views.submit_page, name="submit"),
    path("w/<str:name>/tensorboard/", include(tensorboard_pages)),
]
