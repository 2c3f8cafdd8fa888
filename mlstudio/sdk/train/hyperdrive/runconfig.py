"""v1's HyperDriveConfig: what to sweep, how, and for how long."""

from __future__ import annotations

from mlstudio.sdk.exceptions import UserErrorException
from mlstudio.sdk.train.hyperdrive import _spec
from mlstudio.sdk.train.hyperdrive.policy import EarlyTerminationPolicy
from mlstudio.sdk.train.hyperdrive.sampling import HyperParameterSampling


class HyperDriveConfig:
    """A sweep: children are `run_config` (a ScriptRunConfig) with sampled `--name value`
    arguments. Everything is checked here, so a bad sweep fails before anything is uploaded."""

    def __init__(
        self,
        hyperparameter_sampling: HyperParameterSampling,
        primary_metric_name: str,
        primary_metric_goal,
        max_total_runs: int,
        max_concurrent_runs: int | None = None,
        max_duration_minutes: int = 10080,
        policy: EarlyTerminationPolicy | None = None,
        estimator=None,
        run_config=None,
        resume_from=None,
        resume_child_runs=None,
        pipeline=None,
        debug_flag=None,
        custom_run_id=None,
    ):
        if pipeline is not None:
            raise NotImplementedError(
                "HyperDriveConfig(pipeline=...) is not supported; sweep a ScriptRunConfig "
                "with run_config=... instead."
            )
        if not isinstance(hyperparameter_sampling, HyperParameterSampling):
            raise UserErrorException(
                "hyperparameter_sampling must be a RandomParameterSampling, "
                "GridParameterSampling or BayesianParameterSampling."
            )
        if (estimator is None) == (run_config is None):
            raise UserErrorException(
                "Give exactly one of run_config (a ScriptRunConfig) or estimator, not "
                f"{'both' if estimator is not None else 'neither'}."
            )
        self._source = run_config if run_config is not None else estimator
        if not hasattr(self._source, "to_dict") or not hasattr(self._source, "source_directory"):
            raise UserErrorException(
                f"run_config must be a ScriptRunConfig (from mlstudio.sdk), not {self._source!r}."
            )
        if policy is not None and not isinstance(policy, EarlyTerminationPolicy):
            raise UserErrorException(
                "policy must be BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy, "
                f"SuccessiveHalvingPolicy, NoTerminationPolicy or None, not {policy!r}."
            )
        self._sampling = hyperparameter_sampling
        self._primary_metric_config = {
            "name": primary_metric_name,
            "goal": _spec.goal_check(primary_metric_goal),
        }
        self._max_total_runs, self._max_concurrent_runs, self._max_duration_minutes = (
            _spec.counts_check(max_total_runs, max_concurrent_runs, max_duration_minutes)
        )
        self._policy = policy
        _spec.policy_check(self._sampling._sampling_method_name, self._policy_json())
        self._resume_from = _as_list(resume_from)
        self._resume_child_runs = _as_list(resume_child_runs)
        self.run_config = run_config
        self.estimator = estimator

    @property
    def source_directory(self) -> str:
        return self._source.source_directory

    def _policy_json(self) -> dict | None:
        return self._policy.to_json() if self._policy is not None else None

    def to_dict(self) -> dict:
        """The JSON the studio's sweep route takes."""
        return _spec.config_check(
            {
                "sampling": self._sampling.to_json(),
                "primary_metric_name": self._primary_metric_config["name"],
                "primary_metric_goal": self._primary_metric_config["goal"],
                "max_total_runs": self._max_total_runs,
                "max_concurrent_runs": self._max_concurrent_runs,
                "max_duration_minutes": self._max_duration_minutes,
                "policy": self._policy_json(),
                "run_config": self._source.to_dict(),
                "resume_from": [getattr(r, "id", r) for r in self._resume_from],
                "resume_child_runs": [getattr(r, "id", r) for r in self._resume_child_runs],
            }
        )

    def _submit_to(self, experiment, tags: dict | None):
        """experiment.submit(hyperdrive_config): upload the folder once, then one request
        creates the sweep; children share the snapshot."""
        from mlstudio.sdk._snapshot import submit_with_snapshot
        from mlstudio.sdk.train.hyperdrive.run import HyperDriveRun

        body = {**self.to_dict(), "tags": dict(tags or {})}
        details = submit_with_snapshot(
            experiment.workspace,
            self.source_directory,
            body=body,
            create=f"{experiment._path}/sweeps",
        )
        return HyperDriveRun(experiment, details["runId"], hyperdrive_config=self, _details=details)


def _as_list(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
