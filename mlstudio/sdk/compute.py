"""`from mlstudio.sdk.compute import ComputeTarget, AmlCompute` ports azureml.core.compute's
import line unchanged apart from the package."""

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
    "ComputeTarget",
    "ComputeTargetException",
    "DockerCompute",
    "LocalCompute",
]
