"""A private registry's login, as azureml.core.container_registry.ContainerRegistry."""

from __future__ import annotations


class ContainerRegistry:
    """address, username, password. The password is sent to the studio with a registration,
    stored encrypted and never returned: on a fetched environment it is None and
    `password_set` says whether the studio holds one."""

    def __init__(
        self, address: str | None = None, username: str | None = None, password: str | None = None
    ):
        self.address = address
        self.username = username
        self.password = password
        self.password_set = False

    def to_dict(self) -> dict:
        return {"address": self.address, "username": self.username, "password": self.password}

    def __repr__(self) -> str:
        hidden = "***" if self.password or self.password_set else None
        return (
            f"ContainerRegistry(address={self.address!r}, username={self.username!r}, "
            f"password={hidden!r})"
        )
