"""Distributed job configurations, as in azureml.core.runconfig:

    from mlstudio.sdk.runconfig import PyTorchConfiguration  # was: azureml.core.runconfig
    config = ScriptRunConfig(".", "train.py", compute_target=cluster,
                             distributed_job_config=PyTorchConfiguration(process_count=4,
                                                                         node_count=2))

Each process of the run gets its rank in environment variables (RANK, LOCAL_RANK, WORLD_SIZE,
NODE_RANK, MASTER_ADDR, MASTER_PORT; TF_CONFIG for TensorFlow), and `$LOCAL_RANK`-style
references in the script's arguments are replaced per process. Each process has its own log,
user_logs/std_log_process_<rank>.txt.
"""

from __future__ import annotations

from mlstudio.sdk._surface import module_getattr
from mlstudio.sdk.exceptions import UserErrorException
from mlstudio.sdk.script_run_config import DockerConfiguration, RunConfiguration

__all__ = [
    "DockerConfiguration",
    "MpiConfiguration",
    "PyTorchConfiguration",
    "RunConfiguration",
    "TensorflowConfiguration",
]


def _count(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserErrorException(f"{what} must be a whole number of at least 1, not {value!r}.")
    return value


class PyTorchConfiguration:
    """`process_count` processes in all, spread evenly over `node_count` nodes."""

    def __init__(self, communication_backend: str = "Nccl", process_count: int | None = None,
                 node_count: int = 1):  # fmt: skip
        self.communication_backend = communication_backend
        self.node_count = _count(node_count, "node_count")
        self.process_count = _count(process_count or node_count, "process_count")
        if self.process_count % self.node_count:
            raise UserErrorException(
                f"process_count {self.process_count} does not spread evenly over node_count "
                f"{self.node_count}; use a multiple of node_count."
            )

    def to_dict(self) -> dict:
        return {"type": "pytorch", "communication_backend": self.communication_backend,
                "process_count": self.process_count, "node_count": self.node_count}  # fmt: skip


class MpiConfiguration:
    """`mpirun` with `process_count_per_node` processes on each of `node_count` nodes."""

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1):
        self.process_count_per_node = _count(process_count_per_node, "process_count_per_node")
        self.node_count = _count(node_count, "node_count")

    def to_dict(self) -> dict:
        return {"type": "mpi", "process_count": self.process_count_per_node * self.node_count,
                "node_count": self.node_count}  # fmt: skip


class TensorflowConfiguration:
    """`worker_count` workers and `parameter_server_count` parameter servers, each told its
    part through TF_CONFIG."""

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1):
        self.worker_count = _count(worker_count, "worker_count")
        if (
            isinstance(parameter_server_count, bool)
            or not isinstance(parameter_server_count, int)
            or parameter_server_count < 0
        ):
            raise UserErrorException(
                "parameter_server_count must be a whole number of at least 0, not "
                f"{parameter_server_count!r}."
            )
        self.parameter_server_count = parameter_server_count

    def to_dict(self) -> dict:
        return {"type": "tensorflow", "worker_count": self.worker_count,
                "parameter_server_count": self.parameter_server_count,
                "process_count": self.worker_count + self.parameter_server_count,
                "node_count": 1}  # fmt: skip


__getattr__ = module_getattr(__name__)
