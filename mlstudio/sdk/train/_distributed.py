"""v1's distributed_training objects (Mpi, Gloo, Nccl, ParameterServer) and their
distributed_backend names, as the runconfig classes ScriptRunConfig takes."""

from __future__ import annotations

from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk.exceptions import UserErrorException
from mlstudio.sdk.runconfig import (
    MpiConfiguration,
    PyTorchConfiguration,
    TensorflowConfiguration,
)


class Mpi(V1Surface):
    def __init__(self, process_count_per_node: int = 1):
        self.process_count_per_node = process_count_per_node


class Gloo(V1Surface):
    backend = "Gloo"


class Nccl(V1Surface):
    backend = "Nccl"


class ParameterServer(V1Surface):
    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1):
        self.worker_count = worker_count
        self.parameter_server_count = parameter_server_count


BACKENDS = {"mpi": Mpi, "gloo": Gloo, "nccl": Nccl, "ps": ParameterServer}


def distributed_config(training, backend, node_count: int, process_count_per_node: int,
                       worker_count=None, parameter_server_count=None):  # fmt: skip
    """The ScriptRunConfig distributed_job_config for an estimator's settings, or None."""
    if training is None and backend:
        kind = BACKENDS.get(str(backend).lower())
        if kind is None:
            raise UserErrorException(
                f"distributed_backend {backend!r} is not one of {', '.join(BACKENDS)}."
            )
        training = kind()
    if training is None:
        return None
    if isinstance(training, Mpi):
        per_node = training.process_count_per_node or process_count_per_node
        return MpiConfiguration(process_count_per_node=per_node, node_count=node_count)
    if isinstance(training, Gloo | Nccl):
        return PyTorchConfiguration(
            communication_backend=training.backend,
            process_count=node_count * process_count_per_node,
            node_count=node_count,
        )
    if isinstance(training, ParameterServer):
        return TensorflowConfiguration(
            worker_count=worker_count or training.worker_count,
            parameter_server_count=(
                training.parameter_server_count
                if parameter_server_count is None
                else parameter_server_count
            ),
        )
    raise UserErrorException(
        f"distributed_training must be Mpi(), Gloo(), Nccl() or ParameterServer() from "
        f"mlstudio.sdk.train.dnn, not {training!r}."
    )
