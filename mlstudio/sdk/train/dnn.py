"""azureml.train.dnn: PyTorch and TensorFlow estimators and the distributed_training kinds.
PyTorch without extra packages runs in MLStudio's curated MLStudio-PyTorch-CPU."""

from __future__ import annotations

from mlstudio.sdk._surface import module_getattr
from mlstudio.sdk.train._distributed import Gloo, Mpi, Nccl, ParameterServer
from mlstudio.sdk.train.estimator import _FrameworkEstimator


class PyTorch(_FrameworkEstimator):
    _framework_packages = ("torch",)
    _curated = "MLStudio-PyTorch-CPU"
    _supported_versions = ("2.13",)


class TensorFlow(_FrameworkEstimator):
    _framework_packages = ("tensorflow",)
    _supported_versions = ("2",)


__all__ = ["Gloo", "Mpi", "Nccl", "ParameterServer", "PyTorch", "TensorFlow"]

__getattr__ = module_getattr(__name__)
