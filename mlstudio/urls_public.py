from pathlib import Path

from django.conf import settings

# `manage.py studio` writes the address it serves on here, so commands run beside it (the
# login link) print links that work whatever --host and --port it was started with.
ADDRESS_FILE = "studio-address"
DEFAULT_ADDRESS = "http://127.0.0.1:8000"


def public_base_url(request) -> str:
    """The studio's address as users reach it: MLSTUDIO_PUBLIC_URL, else the request's host."""
    return settings.MLSTUDIO_PUBLIC_URL.rstrip("/") or request.build_absolute_uri("/").rstrip("/")


def studio_address_write(*, url: str) -> None:
    (Path(settings.DATA_DIR) / ADDRESS_FILE).write_text(url.rstrip("/") + "\n")


def studio_address() -> str:
    """Where users reach the studio outside a request: MLSTUDIO_PUBLIC_URL, else the address
    the studio on this data folder last started on, else the default one."""
    if settings.MLSTUDIO_PUBLIC_URL:
        return settings.MLSTUDIO_PUBLIC_URL.rstrip("/")
    try:
        written = (Path(settings.DATA_DIR) / ADDRESS_FILE).read_text().strip()
    except OSError:
        written = ""
    return written or DEFAULT_ADDRESS
