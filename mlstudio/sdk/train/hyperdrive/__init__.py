"""v1's azureml.train.hyperdrive: `from mlstudio.sdk.train.hyperdrive import *` gives the same
names. A sweep is submitted with `experiment.submit(HyperDriveConfig(...))`."""

from mlstudio.sdk.train.hyperdrive.parameter_expressions import (
    choice,
    lognormal,
    loguniform,
    normal,
    qlognormal,
    qloguniform,
    qnormal,
    quniform,
    randint,
    uniform,
)
from mlstudio.sdk.train.hyperdrive.policy import (
    BanditPolicy,
    EarlyTerminationPolicy,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    SuccessiveHalvingPolicy,
    TruncationSelectionPolicy,
)
from mlstudio.sdk.train.hyperdrive.run import HyperDriveRun, PrimaryMetricGoal
from mlstudio.sdk.train.hyperdrive.runconfig import HyperDriveConfig
from mlstudio.sdk.train.hyperdrive.sampling import (
    BayesianParameterSampling,
    GridParameterSampling,
    HyperParameterSampling,
    RandomParameterSampling,
)

__all__ = [
    "BanditPolicy",
    "BayesianParameterSampling",
    "EarlyTerminationPolicy",
    "GridParameterSampling",
    "HyperDriveConfig",
    "HyperDriveRun",
    "HyperParameterSampling",
    "MedianStoppingPolicy",
    "NoTerminationPolicy",
    "PrimaryMetricGoal",
    "RandomParameterSampling",
    "SuccessiveHalvingPolicy",
    "TruncationSelectionPolicy",
    "choice",
    "lognormal",
    "loguniform",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "uniform",
]
