"""azureml.train.dnn: PyTorch and TensorFlow estimators and the distributed_training kinds.
PyTorch without extra packages runs in MLStudio's curated MLStudio-PyTorch-CPU."""

from __future__ import annotations

from mlstudio.sdk._surface import module_getattr
from mlstudio.sdk.train._distributed import Gloo, Mpi, Nccl, ParameterServer
from mlstudio.sdk.train.estimator import Estimator


class PyTorch(Estimator):
    _framework_packages = ("torch",)
    _curated = "MLStudio-PyTorch-CPU"

    @staticmethod
    def get_supported_versions(current_version=None) -> list[str]:
        return ["2.13"]


class TensorFlow(Estimator):
    _framework_packages = ("tensorflow",)

    @staticmethod
    def get_supported_versions(current_version=None) -> list[str]:
        return ["2"]


__all__ = ["Gloo", "Mpi", "Nccl", "ParameterServer", "PyTorch", "TensorFlow"]

__getattr__ = module_getattr(__name__)
