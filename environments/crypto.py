"""Registry passwords at rest: Fernet with a key derived from Django's SECRET_KEY.

Keys in SECRET_KEY_FALLBACKS still decrypt, so a secret key can be rotated gracefully; a
password encrypted under a key that is gone fails loudly, never as an empty password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from mlstudio.errors import UserError


class SecretUnreadable(UserError):
    """A stored secret cannot be decrypted with this server's secret key."""

    status = 409
    code = "secret_unreadable"


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mlstudio", info=purpose).derive(
        secret.encode()
    )


def _fernet() -> MultiFernet:
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(_derive(s, b"registry-password"))) for s in secrets]
    )


def password_encrypt(password: str) -> str:
    return _fernet().encrypt(password.encode()).decode()


def password_decrypt(token: str, *, what: str) -> str:
    """The password, or SecretUnreadable naming `what` (e.g. "environment 'x' version 2")."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise SecretUnreadable(
            f"The registry password of {what} cannot be decrypted: the server's secret key "
            "changed since it was stored. Register the environment again with its password "
            "(or list the old key in MLSTUDIO_SECRET_KEY_FALLBACKS)."
        ) from None


def password_fingerprint(password: str | None) -> str:
    """A keyed digest telling two passwords apart without storing either."""
    if not password:
        return ""
    key = _derive(settings.SECRET_KEY, b"registry-password-fingerprint")
    return hmac.new(key, password.encode(), hashlib.sha256).hexdigest()
