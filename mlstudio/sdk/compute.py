"""`from mlstudio.sdk.compute import ComputeTarget, AmlCompute` ports azureml.core.compute's
import line unchanged apart from the package."""

from mlstudio.sdk._compute_instance import ComputeInstance
from mlstudio.sdk._surface import module_getattr
from mlstudio.sdk.compute_target import (
    AmlCompute,
    AmlComputeProvisioningConfiguration,
    AmlComputeStatus,
    ComputeTarget,
    ComputeTargetException,
    DockerCompute,
    LocalCompute,
)

__all__ = [
    "AmlCompute",
    "AmlComputeProvisioningConfiguration",
    "AmlComputeStatus",
    "ComputeInstance",
    "ComputeTarget",
    "ComputeTargetException",
    "DockerCompute",
    "LocalCompute",
]

__getattr__ = module_getattr(__name__)
