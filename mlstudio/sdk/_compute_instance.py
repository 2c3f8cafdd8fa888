"""v1's ComputeInstance: in Azure a one-user VM for notebooks that could also run training.
Here it is what its training use comes to: a cluster target of one node (max_nodes=1) whose
machine is the one that runs `python manage.py worker --target NAME`. That machine is started
and stopped by whoever runs it, so start/stop/restart are accepted and say so."""

from __future__ import annotations

from mlstudio.sdk._compute_v1 import record_cloud_only
from mlstudio.sdk.compute_target import AmlCompute, AmlComputeProvisioningConfiguration

INSTANCE_CLOUD_ONLY = ("ssh_public_access", "admin_user_ssh_public_key", "vnet_resourcegroup_name",
                       "vnet_name", "subnet_name", "assigned_user_object_id",
                       "assigned_user_tenant_id")  # fmt: skip


class ComputeInstanceProvisioningConfiguration(AmlComputeProvisioningConfiguration):
    def __init__(self, vm_size: str = "", description=None, tags=None):
        super().__init__(vm_size=vm_size, min_nodes=0, max_nodes=1, description=description,
                         tags=tags)  # fmt: skip
        self._target_class = ComputeInstance


class ComputeInstance(AmlCompute):
    """`ComputeInstance(workspace=ws, name=...)`, or `ComputeTarget.create(ws, name,
    ComputeInstance.provisioning_configuration(...))`: a one-node cluster target."""

    _v1_ignored = frozenset({"start", "stop", "restart"})

    def __new__(cls, workspace=None, name=None):
        found = super().__new__(cls, workspace, name)
        instance = object.__new__(cls)
        instance._initialize(found.workspace, found._data)
        return instance

    @staticmethod
    def provisioning_configuration(vm_size="", ssh_public_access=False,
                                   admin_user_ssh_public_key=None, vnet_resourcegroup_name=None,
                                   vnet_name=None, subnet_name=None, tags=None, description=None,
                                   assigned_user_object_id=None,
                                   assigned_user_tenant_id=None):  # fmt: skip
        """v1's signature; the Azure-only settings (SSH, networks, the assigned user) are
        recorded on the configuration, and one printed line says they do not apply here."""
        config = ComputeInstanceProvisioningConfiguration(
            vm_size=vm_size, description=description, tags=tags
        )
        given = {name: value for name, value in locals().items() if name in INSTANCE_CLOUD_ONLY}
        record_cloud_only(config, given)
        return config

    def start(self, wait_for_completion=True, show_output=True) -> None:
        self._say_where_it_runs("start")

    def stop(self, wait_for_completion=True, show_output=True) -> None:
        self._say_where_it_runs("stop")

    def restart(self, wait_for_completion=True, show_output=True) -> None:
        self._say_where_it_runs("restart")

    def _say_where_it_runs(self, verb: str) -> None:
        print(
            f"ComputeInstance.{verb}(): nothing to do here; {self.name!r} is the machine that "
            f"runs `python manage.py worker --target {self.name}`: {verb} that worker there."
        )
