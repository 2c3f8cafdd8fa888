"""Reads for the data app that other apps' pages show."""

from __future__ import annotations

from django.db.models import QuerySet

from data.models import DatasetUse
from workspaces.models import Workspace


def dataset_uses_of_run(*, workspace: Workspace, run_id: str) -> QuerySet[DatasetUse]:
    """The dataset versions of this workspace that the run read or wrote, newest use first."""
    return DatasetUse.objects.select_related("version__dataset").filter(
        version__dataset__workspace=workspace, run_id=run_id
    )
