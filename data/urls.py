from django.urls import include, path

from data import views

dataset_pages = [
    path("", views.dataset_detail, name="dataset"),
    path("<int:version>/", views.dataset_detail, name="dataset-version"),
]
urlpatterns = [
    path("w/<str:name>/data/", views.data_home, name="data"),
    path("w/<str:name>/data/datastores/<str:datastore>/", views.datastore_browse, name="datastore"),
    path("w/<str:name>/data/datasets/<str:dataset>/", include(dataset_pages)),
]
