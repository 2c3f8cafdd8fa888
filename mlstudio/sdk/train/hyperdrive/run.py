"""v1's HyperDriveRun: the parent run of a sweep, read through the studio's sweep route."""

from __future__ import annotations

import enum
import json
import sys
import time

from mlstudio.sdk.run import ActivityFailedException, Run

POLL_SECONDS = 1.0
FINAL = ("Completed", "Failed", "Canceled")


class PrimaryMetricGoal(enum.Enum):
    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"


class HyperDriveRun(Run):
    """A sweep's parent run. Children are `<id>_<n>`; their hyperparameters are JSON text, as
    in v1's child tags."""

    RUN_TYPE = "hyperdrive"

    def __init__(self, experiment, run_id: str, hyperdrive_config=None, _details=None):
        super().__init__(experiment, run_id, _details=_details)
        self.hyperdrive_config = hyperdrive_config

    @property
    def _sweep_path(self) -> str:
        return self._path.replace("/runs/", "/sweeps/", 1)

    def _sweep(self) -> dict:
        return self._client.get(self._sweep_path)

    def _sorted(self, sweep: dict, trials: list[dict], reverse: bool) -> list[dict]:
        with_metric = [t for t in trials if t["best_primary_metric"] is not None]
        without = [t for t in trials if t["best_primary_metric"] is None]
        best_first = sweep["primary_metric_goal"] == "MAXIMIZE"
        with_metric.sort(key=lambda t: t["best_primary_metric"], reverse=best_first != reverse)
        return with_metric + without

    def get_best_run_by_primary_metric(
        self, include_failed=True, include_canceled=True, include_resume_from_runs=True
    ):
        """The child with the best primary metric, or None (the sweep's status detail says why,
        e.g. which metrics the children logged instead)."""
        sweep = self._sweep()
        trials = [
            t
            for t in sweep["trials"] + (sweep["resumed_trials"] if include_resume_from_runs else [])
            if (include_failed or t["status"] != "Failed")
            and (include_canceled or t["status"] != "Canceled")
        ]
        ranked = [
            t for t in self._sorted(sweep, trials, False) if t["best_primary_metric"] is not None
        ]
        if not ranked:
            return None
        return Run(self.experiment, ranked[0]["run_id"])

    def get_children_sorted_by_primary_metric(self, top=0, reverse=False, discard_no_metric=False):
        """v1's dicts, best first (reverse=True: worst first); children without the metric last."""
        sweep = self._sweep()
        ranked = self._sorted(sweep, sweep["trials"], reverse)
        if discard_no_metric:
            ranked = [t for t in ranked if t["best_primary_metric"] is not None]
        rows = [
            {
                "run_id": t["run_id"],
                "hyperparameters": json.dumps(t["hyperparameters"]),
                "best_primary_metric": t["best_primary_metric"],
                "status": t["status"],
            }
            for t in ranked
        ]
        return rows[:top] if top else rows

    def get_hyperparameters(self) -> dict:
        """{child id: its hyperparameters as JSON text}."""
        return {t["run_id"]: json.dumps(t["hyperparameters"]) for t in self._sweep()["trials"]}

    def get_metrics(self, name=None, recursive=False, **_) -> dict:
        """{child id: its metrics}, in the shapes of Run.get_metrics."""
        every = super().get_metrics(name=name, recursive=True)
        every.pop(self.id, None)
        return every

    def cancel(self) -> None:
        """Cancels the sweep and every child still going."""
        super().cancel()

    def wait_for_completion(
        self, show_output=True, wait_post_processing=False, raise_on_error=True
    ):
        """Wait for the sweep to end; with show_output, print each child's start, end and
        primary metric as they happen."""
        out = sys.stdout
        if show_output:
            out.write(f"RunId: {self.id}\nWeb View: {self.get_portal_url()}\n\n")
            out.flush()
        seen: dict[str, str] = {}
        while True:
            sweep = self._sweep()
            if show_output:
                self._print_changes(sweep, seen, out)
            if sweep["status"] in FINAL:
                break
            time.sleep(POLL_SECONDS)
        details = self.get_details()
        if show_output:
            self._write_summary(
                out, f"Status: {details['status']} {details.get('statusDetail', '')}\n"
            )
        if raise_on_error and details["status"] == "Failed":
            raise ActivityFailedException(
                f"Run {self.id} ended Failed: {details.get('statusDetail') or 'see its children'}"
            )
        return details

    @staticmethod
    def _print_changes(sweep: dict, seen: dict[str, str], out) -> None:
        metric = sweep["primary_metric_name"]
        for trial in sweep["trials"]:
            before, now = seen.get(trial["run_id"]), trial["status"]
            if before == now:
                continue
            seen[trial["run_id"]] = now
            if now in FINAL:
                detail = f" ({trial['detail']})" if trial["detail"] else ""
                out.write(f"{trial['run_id']} ended {now}{detail}; best {metric}: "
                          f"{trial['best_primary_metric']}\n")  # fmt: skip
            elif now == "Running" or before is None:
                out.write(f"{trial['run_id']} {now}: {json.dumps(trial['hyperparameters'])}\n")
        out.flush()
