"""API schemas the apps share."""

from ninja import Schema


class VersionOut(Schema):
    """The first fields of a registered version, a dataset's or a model's: its id, the name it
    is registered under and its number (1, 2, ...)."""

    id: str
    name: str
    version: int
