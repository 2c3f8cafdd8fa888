"""v1 compute settings that describe Azure machines: what they are here."""

from __future__ import annotations

import sys

# v1's Azure-only provisioning keywords and their defaults: a value other than the default
# is recorded on the configuration and named in one printed line.
CLOUD_ONLY = {
    "vm_priority": "dedicated",
    "admin_username": None,
    "admin_user_password": None,
    "admin_user_ssh_key": None,
    "vnet_resourcegroup_name": None,
    "vnet_name": None,
    "subnet_name": None,
    "remote_login_port_public_access": "NotSpecified",
    "identity_type": None,
    "identity_id": None,
    "location": None,
    "enable_node_public_ip": True,
    # ComputeInstance's own
    "ssh_public_access": False,
    "admin_user_ssh_public_key": None,
    "assigned_user_object_id": None,
    "assigned_user_tenant_id": None,
}


def record_cloud_only(config, given: dict) -> None:
    config.cloud_settings = dict(given)
    changed = sorted(name for name, value in given.items() if value != CLOUD_ONLY[name])
    if changed:
        print(
            f"{', '.join(changed)}: Azure-only settings, recorded but not applied; MLStudio's "
            "nodes are the machines that run `manage.py worker` for this target.",
            file=sys.stdout,
        )


def vm_sizes_of(nodes: list[dict]) -> list[dict]:
    """One entry per distinct machine shape among the nodes, named like
    `local-8cpu-1gpu`, in v1's keys (name, vCPUs, gpus, memoryGB, maxResourceVolumeMB)."""
    shapes = {}
    for node in nodes:
        cpus, gpus = int(node.get("cpu_count") or 0), int(node.get("gpu_count") or 0)
        memory = round((node.get("memory_bytes") or 0) / 2**30, 1)
        name = f"local-{cpus}cpu-{gpus}gpu"
        shapes[name] = {
            "name": name,
            "vCPUs": cpus,
            "gpus": gpus,
            "memoryGB": memory,
            "maxResourceVolumeMB": 0,
            "nodes": shapes.get(name, {}).get("nodes", 0) + 1,
        }
    return sorted(shapes.values(), key=lambda shape: (shape["vCPUs"], shape["gpus"]))
