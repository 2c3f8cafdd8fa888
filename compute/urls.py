from django.urls import path

from compute import views

urlpatterns = [
    path("w/<str:name>/compute/", views.compute_page, name="compute"),
    path("w/<str:name>/compute/<str:target>/delete/", views.target_delete, name="compute-delete"),
]
