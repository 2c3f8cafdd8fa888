from django.urls import path

from runs import views

urlpatterns = [
    path("w/<str:name>/runs/<str:run_id>/", views.run_detail, name="run"),
]
