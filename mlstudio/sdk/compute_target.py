"""Compute targets, as azureml.core.compute: `ComputeTarget(workspace=ws, name=...)`,
`ComputeTarget.create(ws, name, AmlCompute.provisioning_configuration(...))`, `list`,
`delete`, `wait_for_completion`, `get_status()`.

A "node" in azureml's sense is what runs one job; here that is one slot of a worker node, so
`max_nodes` is the most runs a target executes at once, across all its worker nodes.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

from mlstudio.sdk._compute_v1 import CLOUD_ONLY, record_cloud_only, vm_sizes_of
from mlstudio.sdk._http import segment
from mlstudio.sdk._surface import V1Surface, module_getattr
from mlstudio.sdk.exceptions import (
    AuthenticationException,
    NotFoundException,
    ServiceUnreachableException,
    UserErrorException,
)

POLL_SECONDS = 1.0


class ComputeTargetException(UserErrorException):
    """A compute target is missing ("ComputeTargetNotFound: …"), refused or misconfigured."""

    @property
    def message(self) -> str:
        return str(self)


def _call(method: str, workspace, path: str, body=None):
    """A request about compute targets; refusals become ComputeTargetException."""
    try:
        return workspace._client.request(method, path, body)
    except (AuthenticationException, ServiceUnreachableException):
        raise
    except UserErrorException as exc:
        message = str(exc)
        if isinstance(exc, NotFoundException) and "ComputeTargetNotFound" not in message:
            message = f"ComputeTargetNotFound: {message}"
        raise ComputeTargetException(message) from None


def _base(workspace) -> str:
    return f"workspaces/{segment(workspace.name)}/compute"


# --- configurations --------------------------------------------------------------------------


class ComputeTargetProvisioningConfiguration:
    """What ComputeTarget.create() registers; made by AmlCompute/DockerCompute's helpers."""

    type = ""

    def __init__(self, *, max_nodes=None, description=None, tags=None):
        self.max_nodes = max_nodes
        self.description = description
        self.tags = dict(tags or {})

    def _payload(self) -> dict:
        return {
            "type": self.type,
            "max_nodes": self.max_nodes,
            "description": self.description or "",
            "tags": self.tags,
        }


class ScaleSettings:
    def __init__(self, minimum_node_count, maximum_node_count, idle_seconds_before_scaledown):
        self.minimum_node_count = minimum_node_count
        self.maximum_node_count = maximum_node_count
        self.idle_seconds_before_scaledown = idle_seconds_before_scaledown

    def serialize(self) -> dict:
        idle = self.idle_seconds_before_scaledown
        return {
            "minNodeCount": self.minimum_node_count,
            "maxNodeCount": self.maximum_node_count,
            "nodeIdleTimeBeforeScaleDown": f"PT{idle}S" if idle else "",
        }


class AmlComputeProvisioningConfiguration(ComputeTargetProvisioningConfiguration):
    type = "cluster"

    def __init__(self, vm_size="", vm_priority="dedicated", min_nodes=0, max_nodes=None,
                 idle_seconds_before_scaledown=1800, description=None, tags=None):  # fmt: skip
        super().__init__(max_nodes=4 if max_nodes is None else max_nodes, description=description,
                         tags=tags)  # fmt: skip
        self.vm_size = vm_size or ""
        self.vm_priority = vm_priority
        self.scale_settings = ScaleSettings(
            min_nodes or 0, self.max_nodes, idle_seconds_before_scaledown
        )
        if self.max_nodes < self.scale_settings.minimum_node_count:
            raise ComputeTargetException(
                "Invalid provisioning configuration, max nodes count must be greater than or "
                "equal to min nodes count"
            )

    def _payload(self) -> dict:
        return {
            **super()._payload(),
            "vm_size": self.vm_size,
            "min_nodes": self.scale_settings.minimum_node_count,
            "idle_seconds_before_scaledown": self.scale_settings.idle_seconds_before_scaledown,
        }


class DockerComputeProvisioningConfiguration(ComputeTargetProvisioningConfiguration):
    type = "docker"

    def __init__(self, docker_host=None, max_nodes=None, description=None, tags=None):
        super().__init__(max_nodes=max_nodes, description=description, tags=tags)
        self.docker_host = docker_host or ""

    def _payload(self) -> dict:
        return {**super()._payload(), "docker_host": self.docker_host}


# --- status ----------------------------------------------------------------------------------


class AmlComputeNodeStateCounts:
    def __init__(self, data: dict):
        self.idle_node_count = data["idle_node_count"]
        self.running_node_count = data["running_node_count"]
        self.preparing_node_count = data["preparing_node_count"]
        self.unusable_node_count = data["unusable_node_count"]
        self.leaving_node_count = data.get("leaving_node_count", 0)
        self.preempted_node_count = data.get("preempted_node_count", 0)

    def serialize(self) -> dict:
        return {
            "idleNodeCount": self.idle_node_count,
            "leavingNodeCount": self.leaving_node_count,
            "preemptedNodeCount": self.preempted_node_count,
            "preparingNodeCount": self.preparing_node_count,
            "runningNodeCount": self.running_node_count,
            "unusableNodeCount": self.unusable_node_count,
        }

    def __repr__(self) -> str:
        return f"AmlComputeNodeStateCounts({self.serialize()})"


class AmlComputeStatus:
    """The detailed status of any target (local, docker or cluster)."""

    def __init__(self, data: dict):
        self._data = data
        self.current_node_count = data["current_node_count"]
        self.target_node_count = data["target_node_count"]
        self.node_state_counts = AmlComputeNodeStateCounts(data["node_state_counts"])
        self.allocation_state = data["allocation_state"]
        self.allocation_state_transition_time = None
        self.provisioning_state = data["provisioning_state"]
        self.provisioning_state_transition_time = None
        self.errors = list(data["errors"])
        self.scale_settings = ScaleSettings(
            data["min_nodes"], data["max_nodes"], data["idle_seconds_before_scaledown"]
        )
        self.vm_size = data["vm_size"]
        self.vm_priority = data["vm_priority"]
        self.creation_time = _time(data["creation_time"])
        self.modified_time = _time(data["modified_time"])
        self.hints = list(data.get("hints") or [])

    def serialize(self) -> dict:
        return {
            "currentNodeCount": self.current_node_count,
            "targetNodeCount": self.target_node_count,
            "nodeStateCounts": self.node_state_counts.serialize(),
            "allocationState": self.allocation_state,
            "allocationStateTransitionTime": None,
            "errors": self.errors or None,
            "creationTime": _iso(self.creation_time),
            "modifiedTime": _iso(self.modified_time),
            "provisioningState": self.provisioning_state,
            "provisioningStateTransitionTime": None,
            "scaleSettings": self.scale_settings.serialize(),
            "vmPriority": self.vm_priority,
            "vmSize": self.vm_size,
        }

    def __repr__(self) -> str:
        return f"AmlComputeStatus({self.serialize()})"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- targets ---------------------------------------------------------------------------------


class ComputeTarget(V1Surface):
    """A compute target of a workspace. `ComputeTarget(workspace=ws, name=...)` returns the
    object of its kind (AmlCompute, DockerCompute, LocalCompute) or raises
    ComputeTargetException with "ComputeTargetNotFound"."""

    _type: str | None = None

    def __new__(cls, workspace=None, name=None):
        if workspace is None or name is None:
            raise ComputeTargetException("ComputeTarget needs a workspace and a name.")
        data = _call("GET", workspace, f"{_base(workspace)}/{segment(name)}")
        target = _from_data(workspace, data)
        if cls._type is not None and target.type != cls._type:
            raise ComputeTargetException(
                f"Compute target {name!r} is a {target.type} target, not {cls.__name__}; "
                "use ComputeTarget(workspace, name) to get any kind."
            )
        return target

    def __init__(self, workspace=None, name=None):
        """Everything happens in __new__, which picks the subclass."""

    def _initialize(self, workspace, data: dict) -> None:
        self.workspace = workspace
        self._data = data
        self.name = data["name"]
        self.type = data["type"]
        self.description = data["description"]
        self.tags = dict(data["tags"])
        self.provisioning_state = data["provisioning_state"]
        self.provisioning_errors = list(data["provisioning_errors"]) or None
        self.created_on = _time(data["created_at"])
        self.modified_on = _time(data["modified_at"])
        self.created_by = data["created_by"]
        self.status = AmlComputeStatus(data["status"])

    @staticmethod
    def create(workspace, name: str, provisioning_configuration) -> ComputeTarget:
        """Register a target; wait_for_completion() then waits for its min_nodes."""
        if not isinstance(provisioning_configuration, ComputeTargetProvisioningConfiguration):
            raise ComputeTargetException(
                "Pass a configuration from AmlCompute.provisioning_configuration(...) or "
                "DockerCompute.provisioning_configuration(...)."
            )
        body = {"name": name, **provisioning_configuration._payload()}
        data = _call("POST", workspace, _base(workspace), body)
        return _from_data(
            workspace, data, getattr(provisioning_configuration, "_target_class", None)
        )

    attach = create

    @staticmethod
    def list(workspace) -> list[ComputeTarget]:
        return [_from_data(workspace, data) for data in _call("GET", workspace, _base(workspace))]

    @property
    def _path(self) -> str:
        return f"{_base(self.workspace)}/{segment(self.name)}"

    def refresh_state(self) -> None:
        self._initialize(self.workspace, _call("GET", self.workspace, self._path))

    def get_status(self) -> AmlComputeStatus:
        self.refresh_state()
        return self.status

    def list_nodes(self) -> list[dict]:
        """The worker nodes of this target: name, hostname, state (idle, busy, unusable,
        offline), slots, busy_slots, cpu_count, gpu_count, version, heartbeat_at."""
        return _call("GET", self.workspace, f"{self._path}/nodes")

    def delete(self) -> None:
        """Remove the target; refused while runs are queued for it or execute on it."""
        _call("DELETE", self.workspace, self._path)

    detach = delete

    def wait_for_completion(self, show_output=False, min_node_count=None, timeout_in_minutes=25,
                            is_delete_operation=False) -> None:  # fmt: skip
        """Wait until min_node_count (default: the target's min_nodes) nodes are online. As in
        azureml, a timeout or a failed state ends the wait and is reported, not raised."""
        if is_delete_operation:
            return  # deleting is done when delete() returns
        status = self.get_status()
        wanted = (
            status.scale_settings.minimum_node_count if min_node_count is None else min_node_count
        )
        deadline = time.monotonic() + timeout_in_minutes * 60
        say = _printer(show_output)
        say(self.provisioning_state)
        shown = None
        while status.current_node_count < wanted and not status.errors:
            if time.monotonic() >= deadline:
                say(f"\nWait timeout has been reached. {status.current_node_count} of {wanted} "
                    f"nodes are online. {' '.join(status.hints)}")  # fmt: skip
                return
            if shown != status.current_node_count:
                say(f"\nWaiting for nodes: {status.current_node_count} of {wanted} online.")
                shown = status.current_node_count
            time.sleep(POLL_SECONDS)
            status = self.get_status()
        if status.errors:
            say(f"\nThere were errors reported from the compute target:\n{status.errors}")
            return
        say(f"\n{type(self).__name__} wait for completion finished\n\n"
            "Minimum number of nodes requested have been provisioned")  # fmt: skip

    def serialize(self) -> dict:
        return {
            "id": f"{self.workspace.name}/{self.name}",
            "name": self.name,
            "location": None,
            "tags": self.tags,
            "properties": {
                "description": self.description,
                "computeType": self.type,
                "provisioningState": self.provisioning_state,
                "provisioningErrors": self.provisioning_errors,
                "status": self.status.serialize(),
            },
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workspace={self.workspace.name!r}, name={self.name!r})"


def _printer(show: bool):
    def say(text: str) -> None:
        if show:
            sys.stdout.write(text)
            sys.stdout.flush()

    return say


class AmlCompute(ComputeTarget):
    """A cluster target: a pool of worker nodes, up to max_nodes runs at once. `vm_size` is a
    label; the machines are whichever start `python manage.py worker --target NAME`."""

    _type = "cluster"

    @staticmethod
    def provisioning_configuration(vm_size="", vm_priority="dedicated", min_nodes=0,
                                   max_nodes=None, idle_seconds_before_scaledown=1800,
                                   admin_username=None, admin_user_password=None,
                                   admin_user_ssh_key=None, vnet_resourcegroup_name=None,
                                   vnet_name=None, subnet_name=None, tags=None, description=None,
                                   remote_login_port_public_access="NotSpecified",
                                   identity_type=None, identity_id=None, location=None,
                                   enable_node_public_ip=True):  # fmt: skip
        """azureml's signature; the Azure-only settings (accounts, networks, identities,
        location) are recorded on the configuration, and one printed line says they do not
        apply here."""
        config = AmlComputeProvisioningConfiguration(
            vm_size=vm_size, vm_priority=vm_priority, min_nodes=min_nodes, max_nodes=max_nodes,
            idle_seconds_before_scaledown=idle_seconds_before_scaledown,
            description=description, tags=tags,
        )  # fmt: skip
        given = {name: value for name, value in locals().items() if name in CLOUD_ONLY}
        record_cloud_only(config, given)
        return config

    @staticmethod
    def supported_vmsizes(workspace, location=None) -> list[dict]:
        """The sizes the workspace's registered worker nodes offer, in v1's shape."""
        return vm_sizes_of(_call("GET", workspace, f"workspaces/{segment(workspace.name)}/nodes"))

    def _initialize(self, workspace, data: dict) -> None:
        super()._initialize(workspace, data)
        self.vm_size = data["vm_size"]
        self.vm_priority = "dedicated"
        self.scale_settings = self.status.scale_settings

    def get_active_runs(self, type=None, tags=None, properties=None, status=None):
        """The runs on this cluster that have not ended (or those with `status`), newest
        first per experiment; `tags` and `properties` filter as in Run.list."""
        from mlstudio.sdk._run_v1 import _matches
        from mlstudio.sdk.experiment import Experiment
        from mlstudio.sdk.run import FINAL_STATUSES

        for experiment in Experiment.list(self.workspace, view_type="All"):
            for run in experiment.get_runs(include_children=True):
                details = run._details
                if details["target"] != self.name or details["status"] in FINAL_STATUSES:
                    continue
                if status is not None and details["status"] != status:
                    continue
                if _matches(details["tags"], tags) and _matches(details["properties"], properties):
                    yield run

    def update(self, min_nodes=None, max_nodes=None, idle_seconds_before_scaledown=None):
        """Change the scale settings; None keeps a value."""
        body = {"min_nodes": min_nodes, "max_nodes": max_nodes,
                "idle_seconds_before_scaledown": idle_seconds_before_scaledown}  # fmt: skip
        self._initialize(self.workspace, _call("PATCH", self.workspace, self._path, body))


class DockerCompute(ComputeTarget):
    """A docker target: runs execute in containers on a Docker engine, the local socket by
    default or any `docker_host` URL (tcp://host:2376, ssh://user@host)."""

    _type = "docker"

    @staticmethod
    def provisioning_configuration(docker_host=None, max_nodes=None, description=None, tags=None):
        return DockerComputeProvisioningConfiguration(
            docker_host=docker_host, max_nodes=max_nodes, description=description, tags=tags
        )

    attach_configuration = provisioning_configuration

    def _initialize(self, workspace, data: dict) -> None:
        super()._initialize(workspace, data)
        self.docker_host = data["docker_host"]


class LocalCompute(ComputeTarget):
    """`local`: the studio's own worker nodes. Present in every workspace; cannot be deleted."""

    _type = "local"


_KINDS = {kind._type: kind for kind in (AmlCompute, DockerCompute, LocalCompute)}


def _from_data(workspace, data: dict, kind: type | None = None) -> ComputeTarget:
    target = object.__new__(kind or _KINDS.get(data["type"], ComputeTarget))
    target._initialize(workspace, data)
    return target


__getattr__ = module_getattr(__name__)
