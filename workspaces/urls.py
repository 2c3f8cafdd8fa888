from django.contrib.auth import views as auth_views
from django.urls import path

from workspaces import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("login/link/<str:token>/", views.login_link, name="login-link"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token-revoke"),
    path("w/<str:name>/settings/", views.workspace_detail, name="workspace-settings"),
    path("w/<str:name>/settings/members/", views.workspace_members, name="workspace-members"),
    path("workspaces/new/", views.workspace_new, name="workspace-new"),
    path("w/<str:name>/config.json", views.workspace_config, name="workspace-config"),
]
