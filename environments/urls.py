from django.urls import path

from environments import views

urlpatterns = [
    path("w/<str:name>/environments/", views.environment_list, name="environments"),
    path("w/<str:name>/environments/<str:env>/", views.environment_detail, name="environment"),
]
