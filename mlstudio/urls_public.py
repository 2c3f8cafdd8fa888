from django.conf import settings


def public_base_url(request) -> str:
    """The studio's address as users reach it: MLSTUDIO_PUBLIC_URL, else the request's host."""
    return settings.MLSTUDIO_PUBLIC_URL.rstrip("/") or request.build_absolute_uri("/").rstrip("/")
