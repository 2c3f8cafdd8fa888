"""v1's authentication classes, accepted so `auth=` arguments port unchanged.

MLStudio authenticates with its own API token (config.json's `token`, or MLSTUDIO_TOKEN); an
Azure credential has nothing to log in to here. Making one says so once per process.
"""

from __future__ import annotations

import sys

_told = False

NOTE = (
    "MLStudio uses its API token (config.json or MLSTUDIO_TOKEN), not Azure credentials: "
    "{name} is accepted and ignored."
)


def _tell_once(name: str) -> None:
    global _told
    if not _told:
        _told = True
        print(NOTE.format(name=name), file=sys.stderr)


class AbstractAuthentication:
    """Any v1 credential: accepted with whatever arguments v1 took, then ignored."""

    _v1_ignores_all = True

    def __init__(self, *args, **kwargs):
        self._arguments = kwargs
        _tell_once(type(self).__name__)

    def get_authentication_header(self) -> dict:
        """v1 returned an Azure bearer header; here there is none to give."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class InteractiveLoginAuthentication(AbstractAuthentication):
    """v1: (force=False, tenant_id=None, cloud=None)."""


class ServicePrincipalAuthentication(AbstractAuthentication):
    """v1: (tenant_id, service_principal_id, service_principal_password, cloud='AzureCloud')."""


class AzureCliAuthentication(AbstractAuthentication):
    """v1: (cloud=None)."""


class MsiAuthentication(AbstractAuthentication):
    """v1: (cloud=None, identity_config=None)."""


class TokenAuthentication(AbstractAuthentication):
    """v1: (get_token_for_audience)."""


__all__ = [
    "AbstractAuthentication",
    "AzureCliAuthentication",
    "InteractiveLoginAuthentication",
    "MsiAuthentication",
    "ServicePrincipalAuthentication",
    "TokenAuthentication",
]
