"""The parts of v1's Workspace that describe Azure resources, with MLStudio's placeholders,
and the dictionaries by name (experiments, environments, compute targets)."""

from __future__ import annotations

from mlstudio import sdk  # its classes are imported on first use (mlstudio/sdk/__init__.py)
from mlstudio.sdk._surface import V1Surface

PLACEHOLDER = "local"  # subscription_id, resource_group and location: not Azure here


def v1_positional(name, url, token):
    """v1 takes (subscription_id, resource_group, workspace_name): three positional values
    of which the second is no URL. Then the third is the workspace name."""
    if url is not None and "://" not in str(url):
        return token, None, None
    return name, url, token


def _by_name(items) -> dict:
    return {item.name: item for item in items}


class WorkspaceV1(V1Surface):
    """Mixed into Workspace. Needs `name`, `url` and `_details` from it."""

    _v1_ignored = frozenset({"subscription_id", "resource_group", "location", "sku", "tags"})
    subscription_id = PLACEHOLDER
    resource_group = PLACEHOLDER
    location = PLACEHOLDER
    sku = "Basic"
    tags: dict = {}

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/api/"

    @property
    def service_context(self) -> dict:
        return {"workspace_name": self.name, "url": self.url}

    def get_details(self) -> dict:
        """v1's keys (id, name, location, friendlyName, ...) beside the studio's own."""
        return {
            "id": f"/subscriptions/{PLACEHOLDER}/resourceGroups/{PLACEHOLDER}/workspaces/"
            f"{self.name}",
            "name": self.name,
            "friendlyName": self.name,
            "location": PLACEHOLDER,
            "type": "MLStudio",
            "sku": self.sku,
            "workspaceid": self.name,
            "discoveryUrl": self.discovery_url,
            **dict(self._details),
        }

    # v1's dictionaries, name → item, each read from the studio when asked for: the active
    # experiments; the latest version of each environment (curated ones included), dataset
    # and model; the compute targets, each of its kind (AmlCompute, DockerCompute,
    # LocalCompute); the datastores, `workspaceblobstore` (the studio's file store) first.
    experiments = property(lambda self: _by_name(sdk.Experiment.list(self)))
    environments = property(lambda self: sdk.Environment.list(self))
    compute_targets = property(lambda self: _by_name(sdk.ComputeTarget.list(self)))
    datastores = property(lambda self: _by_name(sdk.Datastore.list(self)))
    datasets = property(lambda self: sdk.Dataset.get_all(self))
    models = property(lambda self: _by_name(sdk.Model.list(self, latest=True)))

    def get_default_datastore(self):
        return sdk.Datastore(self, "workspaceblobstore")

    def get_default_compute_target(self, type=None):
        return sdk.ComputeTarget(workspace=self, name="local")

    def get_run(self, run_id: str):
        """A run of this workspace by id, whichever experiment holds it."""
        from mlstudio.sdk._http import segment
        from mlstudio.sdk.experiment import Experiment
        from mlstudio.sdk.run import Run

        details = self._client.get(f"workspaces/{segment(self.name)}/runs/{segment(run_id)}")
        experiment = Experiment(self, details["experimentName"])
        return Run(experiment, details["runId"], _details=details)
