"""The parts of v1's Workspace that describe Azure resources, with MLStudio's placeholders,
and the dictionaries by name (experiments, environments, compute targets)."""

from __future__ import annotations

from mlstudio.sdk._surface import V1Surface

PLACEHOLDER = "local"  # subscription_id, resource_group and location: not Azure here


def v1_positional(name, url, token):
    """v1 takes (subscription_id, resource_group, workspace_name): three positional values
    of which the second is no URL. Then the third is the workspace name."""
    if url is not None and "://" not in str(url):
        return token, None, None
    return name, url, token


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

    @property
    def experiments(self) -> dict:
        """Name → Experiment, the active ones, as v1."""
        from mlstudio.sdk.experiment import Experiment

        return {experiment.name: experiment for experiment in Experiment.list(self)}

    @property
    def environments(self) -> dict:
        """Name → Environment (the latest version), curated ones included."""
        from mlstudio.sdk.environment import Environment

        return Environment.list(self)

    @property
    def compute_targets(self) -> dict:
        """Name → ComputeTarget of the right kind (AmlCompute, DockerCompute, LocalCompute)."""
        from mlstudio.sdk.compute_target import ComputeTarget

        return {target.name: target for target in ComputeTarget.list(self)}

    @property
    def datastores(self) -> dict:
        """Name → Datastore, `workspaceblobstore` (the studio's file store) first."""
        from mlstudio.sdk.datastore import Datastore

        return {datastore.name: datastore for datastore in Datastore.list(self)}

    @property
    def datasets(self) -> dict:
        """Name → the latest version of each registered dataset."""
        from mlstudio.sdk.dataset import Dataset

        return Dataset.get_all(self)

    @property
    def models(self) -> dict:
        """Name → the latest version of each registered model."""
        from mlstudio.sdk.model import Model

        return {model.name: model for model in Model.list(self, latest=True)}

    def get_default_datastore(self):
        from mlstudio.sdk.datastore import Datastore

        return Datastore(self, "workspaceblobstore")

    def get_default_compute_target(self, type=None):
        from mlstudio.sdk.compute_target import ComputeTarget

        return ComputeTarget(workspace=self, name="local")

    def get_run(self, run_id: str):
        """A run of this workspace by id, whichever experiment holds it."""
        from mlstudio.sdk._http import segment
        from mlstudio.sdk.experiment import Experiment
        from mlstudio.sdk.run import Run

        details = self._client.get(f"workspaces/{segment(self.name)}/runs/{segment(run_id)}")
        experiment = Experiment(self, details["experimentName"])
        return Run(experiment, details["runId"], _details=details)
