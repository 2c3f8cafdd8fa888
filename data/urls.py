from django.urls import path

from data import views

urlpatterns = [
    path("w/<str:name>/data/", views.data_home, name="data"),
    path("w/<str:name>/data/datastores/<str:datastore>/", views.datastore_browse, name="datastore"),
    path("w/<str:name>/data/datasets/<str:dataset>/", views.dataset_detail, name="dataset"),
    path(
        "w/<str:name>/data/datasets/<str:dataset>/<int:version>/",
        views.dataset_detail,
        name="dataset-version",
    ),
    path("w/<str:name>/runs/<str:run_id>/datasets/", views.run_datasets, name="run-datasets"),
]
