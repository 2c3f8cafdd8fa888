"""Writes of sweeps: submit, and the controller steps that tasks run on child events.

A sweep's state is its Sweep row and its children's rows. Each step locks the Sweep row, reads
what it needs, acts, and commits; a step repeated after a crash finds less or nothing to do.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from mlstudio.errors import UserError
from mlstudio.sdk.exceptions import UserErrorException
from mlstudio.sdk.train.hyperdrive import _spec
from runs import services as run_services
from runs.models import FINAL_STATUSES, Experiment, Run, RunStatus, Snapshot
from runs.submission import RunConfig
from sweeps import events, policies, samplers, selectors
from sweeps.models import Sweep, Trial

NO_MORE = object()  # the sampler has nothing left to give (a grid is exhausted)


def sweep_config_check(raw) -> dict:
    """The SDK's rules (mlstudio.sdk.train.hyperdrive._spec), applied again to what arrives."""
    if not isinstance(raw, dict):
        raise UserError("The sweep configuration must be a JSON object (HyperDriveConfig).")
    try:
        return _spec.config_check(raw)
    except UserErrorException as exc:
        raise UserError(str(exc)) from None


def sweep_submit_check(
    *, experiment: Experiment, raw: dict, paths=None
) -> tuple[dict, RunConfig, list[dict]]:
    """Everything a sweep submit refuses, asked before the folder is uploaded."""
    config = sweep_config_check(raw)
    base = RunConfig.parse(config["run_config"])
    run_services.run_submit_check(experiment=experiment, config=base, paths=paths)
    _earlier(experiment=experiment, config=config)
    if len(config["resume_child_runs"]) > config["max_total_runs"]:
        raise UserError("resume_child_runs has more children than max_total_runs allows.")
    resume = _resume_params(experiment=experiment, child_ids=config["resume_child_runs"],
                            space=config["sampling"]["space"])  # fmt: skip
    return config, base, resume


def _earlier(*, experiment: Experiment, config: dict) -> list[Sweep]:
    """The resume_from sweeps; refused unless they optimise the same metric the same way."""
    found = []
    for run_id in config["resume_from"]:
        sweep = Sweep.objects.filter(
            run_id=run_id, run__experiment__workspace=experiment.workspace
        ).first()
        if sweep is None:
            raise UserError(f"resume_from: {run_id!r} is not a sweep in this workspace.")
        same = (sweep.metric, sweep.config["primary_metric_goal"]) == (
            config["primary_metric_name"], config["primary_metric_goal"])  # fmt: skip
        if not same:
            raise UserError(
                f"resume_from: sweep {run_id} optimises {sweep.metric!r} "
                f"({sweep.config['primary_metric_goal']}), this one "
                f"{config['primary_metric_name']!r} ({config['primary_metric_goal']}). Warm "
                "start only from sweeps of the same primary metric and goal."
            )
        found.append(sweep)
    return found


def _resume_params(*, experiment: Experiment, child_ids: list[str], space: dict) -> list[dict]:
    trials = {t.run_id: t for t in Trial.objects.select_related("run").filter(
        run_id__in=child_ids, run__experiment__workspace=experiment.workspace)}  # fmt: skip
    params = []
    for child_id in child_ids:
        trial = trials.get(child_id)
        if trial is None:
            raise UserError(f"resume_child_runs: {child_id!r} is not a child of a sweep here.")
        if not trial.run.is_final:
            raise UserError(
                f"resume_child_runs: {child_id} is still {trial.run.status}; resume a child "
                "that has ended (cancel it first to continue it from its last checkpoint)."
            )
        if set(trial.hyperparameters) != set(space):
            raise UserError(
                f"resume_child_runs: {child_id} was given {sorted(trial.hyperparameters)}, "
                f"this sweep samples {sorted(space)}; resume children of the same space."
            )
        params.append(trial.hyperparameters)
    return params


def _warm_results(earlier: list[Sweep]) -> list[dict]:
    results = []
    for sweep in earlier:
        trials = list(sweep.trials.all())
        best = selectors.best_values(sweep=sweep)
        results += [
            {"params": t.hyperparameters, "value": best[t.run_id]}
            for t in trials
            if t.run_id in best
        ]
    return results


def sweep_submit(*, experiment: Experiment, user, snapshot: Snapshot | None, raw: dict) -> Run:
    """Create the sweep's parent run (Running: it has no process) and its state, then ask for
    the first children once that is committed."""
    config, base, resume = sweep_submit_check(experiment=experiment, raw=raw)
    base.check_against(snapshot)
    warm = _warm_results(_earlier(experiment=experiment, config=config))
    tags = raw.get("tags") if isinstance(raw.get("tags"), dict) else None
    with transaction.atomic():
        parent = run_services.run_start_interactive(experiment=experiment, user=user, tags=tags)
        parent.definition = {
            "sweep_parent": True,
            "compute_target": base.compute_target,
            "queue": base.queue,
        }
        parent.snapshot = snapshot
        goal = {"name": config["primary_metric_name"], "goal": config["primary_metric_goal"]}
        parent.properties = {
            "azureml.runType": "hyperdrive",
            "primary_metric_config": json.dumps(goal),
        }
        parent.save(update_fields=["definition", "snapshot", "properties"])
        Sweep.objects.create(
            run=parent, config=config, base=config["run_config"], seed=secrets.randbits(31),
            warm=warm, resume=resume,
        )  # fmt: skip
        events.advance_later(parent.pk)
    return parent


# --- the controller ------------------------------------------------------------------------


def _locked(parent_id: str) -> Sweep | None:
    return Sweep.objects.select_for_update().select_related("run__experiment").filter(
        run_id=parent_id).first()  # fmt: skip


def sweep_advance(*, parent_id: str) -> None:
    """One controller step: stop what must stop, launch what may start, end what is done."""
    with transaction.atomic():
        sweep = _locked(parent_id)
        if sweep is None or sweep.state == Sweep.State.ENDED or sweep.run.is_final:
            return
        children = list(sweep.run.children.all())
        active = [c for c in children if not c.is_final]
        reason = _stop_reason(sweep, children)
        if reason is not None:
            _stop(sweep, active, *reason)
            return
        launched = 0 if _holding(sweep, children) else _launch_more(sweep, len(active))
        if not active and not launched:
            _finish(sweep, children)


def _stop_reason(sweep: Sweep, children: list[Run]) -> tuple[str, str, dict | None] | None:
    """(final status, detail, error) when the sweep must stop early, else None. Once decided it
    is kept, so the steps that wait for children to stop end the sweep the same way."""
    if sweep.ending:
        return sweep.ending["status"], sweep.ending["detail"], sweep.ending["error"]
    parent = sweep.run
    if parent.status == RunStatus.CANCEL_REQUESTED:
        return RunStatus.CANCELED, parent.status_detail or "Canceled by the user.", None
    limit = sweep.config["max_duration_minutes"]
    if parent.started_at and timezone.now() > parent.started_at + timedelta(minutes=limit):
        message = (f"The sweep reached max_duration_minutes={limit}; its running children were "
                   "canceled. Raise max_duration_minutes to let a sweep run longer.")  # fmt: skip
        return RunStatus.CANCELED, message, {"message": message}
    return _first_batch_failed(sweep, children)


def _first_batch_failed(sweep: Sweep, children: list[Run]):
    """A script that cannot run fails every child: stop after the first batch, not 100 runs."""
    batch = sweep.config["max_concurrent_runs"]
    first = sorted(children, key=lambda c: c.number)[:batch]
    if len(first) < batch or any(c.status != RunStatus.FAILED for c in first):
        return None
    errors = [str((c.error or {}).get("message") or c.status_detail or "failed") for c in first]
    shared = (
        errors[0]
        if len(set(errors)) == 1
        else f"{errors[0]} (and {len(set(errors)) - 1} other errors)"
    )
    message = (f"The first {batch} children all failed, so the sweep stopped: {shared}. Fix "
               "the script or its arguments and submit the sweep again.")  # fmt: skip
    return RunStatus.FAILED, message, {"message": message, "children": [c.pk for c in first]}


def _holding(sweep: Sweep, children: list[Run]) -> bool:
    """While the first batch has only failures so far, launch no more: if the rest of it fails
    too the sweep stops, and no child beyond the first batch was started for nothing."""
    first = sorted(children, key=lambda c: c.number)[: sweep.config["max_concurrent_runs"]]
    ended = [c for c in first if c.is_final]
    return len(children) >= len(first) > len(ended) > 0 and all(
        c.status == RunStatus.FAILED for c in ended
    )


def _stop(sweep: Sweep, active: list[Run], status: str, detail: str, error: dict | None) -> None:
    if not sweep.ending:
        sweep.state = Sweep.State.CANCELING
        sweep.ending = {"status": status, "detail": detail, "error": error}
        sweep.save(update_fields=["state", "ending", "updated_at"])
    for child in active:
        run_services.run_cancel(run=child, reason=f"The sweep stopped: {detail}")
    if not sweep.run.children.exclude(status__in=FINAL_STATUSES).exists():
        _end(sweep, status, detail, error)


def _launch_more(sweep: Sweep, active: int) -> int:
    room = min(
        sweep.config["max_concurrent_runs"] - active,
        sweep.config["max_total_runs"] - sweep.launched,
    )
    started = 0
    for _ in range(max(0, room)):
        params = _next_params(sweep)
        if params is NO_MORE:
            break
        _launch(sweep, params)
        started += 1
    return started


def _next_params(sweep: Sweep):
    index = sweep.launched
    if index < len(sweep.resume):
        return sweep.resume[index]
    index -= len(sweep.resume)
    sampling = sweep.config["sampling"]
    space = sampling["space"]
    if sampling["method"] == "grid":
        found = samplers.grid_params(space, index=index)
        return NO_MORE if found is None else found
    if sampling["method"] == "random":
        seed = sampling["properties"].get("rngSeed", sweep.seed)
        return samplers.random_params(space, seed=f"{seed}-{index}")
    return samplers.bayesian_params(space, history=_history(sweep), maximize=sweep.maximize,
                                    seed=sweep.seed)  # fmt: skip


def _history(sweep: Sweep) -> list[samplers.Result]:
    """Finished children's results, then the warm start's."""
    trials = list(sweep.trials.filter(run__status__in=FINAL_STATUSES))
    best = selectors.best_values(sweep=sweep)
    mine = [samplers.Result(t.hyperparameters, best[t.run_id]) for t in trials if t.run_id in best]
    return mine + [samplers.Result(w["params"], w["value"]) for w in sweep.warm]


def merged_arguments(base: list[str], params: dict) -> list[str]:
    """The base arguments with each sampled `--name value`: a value replaces a base argument
    of the same name (also written `--name=value`), others are appended."""
    merged = [str(a) for a in base]
    for name, value in params.items():
        text = str(value)
        if name in merged:
            at = merged.index(name)
            if at + 1 < len(merged):
                merged[at + 1] = text
            else:
                merged.append(text)
            continue
        prefixed = [i for i, a in enumerate(merged) if a.startswith(name + "=")]
        if prefixed:
            merged[prefixed[0]] = f"{name}={text}"
        else:
            merged += [name, text]
    return merged


# A resumed child gets the earlier child's ./outputs in this folder, and `--resume-from` naming
# it, as v1 passed its training script the checkpoint to go on from.
RESUME_ARGUMENT, RESUME_FOLDER = "--resume-from", "resume_from"


def _resumed_child(sweep: Sweep) -> str | None:
    """The earlier child the next launch continues, while resume_child_runs last."""
    index = sweep.launched
    wanted = sweep.config.get("resume_child_runs") or []
    return wanted[index] if index < min(len(wanted), len(sweep.resume)) else None


def _launch(sweep: Sweep, params: dict) -> Run:
    parent = sweep.run
    number = sweep.launched + 1
    resumes = _resumed_child(sweep)
    arguments = merged_arguments(sweep.base.get("arguments") or [], params)
    if resumes:
        arguments = merged_arguments(arguments, {RESUME_ARGUMENT: RESUME_FOLDER})
    raw = {**sweep.base, "arguments": arguments}
    config = RunConfig.parse(raw)
    config.properties = {"hyperparameters": json.dumps(params)}
    config.display_name = f"{parent.pk}_{number}"
    child = run_services.run_submit(
        experiment=parent.experiment, user=parent.submitted_by, snapshot=parent.snapshot,
        config=config, parent=parent, run_id=f"{parent.pk}_{number}",
    )  # fmt: skip
    policy = sweep.config["policy"]
    child.definition = {**child.definition, "sweep": {
        "parent": parent.pk, "metric": sweep.metric, "policy": bool(policy)}}  # fmt: skip
    if resumes:
        child.definition["resume_outputs_of"] = resumes
    Run.objects.filter(pk=child.pk).update(definition=child.definition)
    Trial.objects.create(sweep=sweep, number=number, run=child, hyperparameters=params)
    sweep.launched = number
    sweep.save(update_fields=["launched", "updated_at"])
    return child


def _finish(sweep: Sweep, children: list[Run]) -> None:
    """Every child has ended: Completed, naming the best child, or why there is none."""
    best = selectors.best_values(sweep=sweep)
    counts: dict[str, int] = {}
    for child in children:
        counts[child.status] = counts.get(child.status, 0) + 1
    tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    if best:
        pick = max if sweep.maximize else min
        best_id = pick(best, key=best.get)
        sweep.best_run_id = best_id
        value = f"{best[best_id]:.6g}"
        detail = f"best {best_id}: {sweep.metric} {value} ({len(children)} children: {tally})"
    else:
        names = selectors.logged_names(sweep=sweep)
        logged = ", ".join(names) if names else "nothing"
        detail = f"no child logged {sweep.metric!r}; children logged: {logged}"
    _end(sweep, RunStatus.COMPLETED, detail, None)


def _end(sweep: Sweep, status: str, detail: str, error: dict | None) -> None:
    sweep.state = Sweep.State.ENDED
    sweep.save(update_fields=["state", "best_run", "updated_at"])
    run_services.run_transition(run_id=sweep.run_id, to=RunStatus.FINALIZING, detail=detail)
    extra = {"error": error} if error else {}
    run_services.run_transition(run_id=sweep.run_id, to=status, detail=detail, **extra)


def sweep_judge(*, parent_id: str) -> list[str]:
    """Apply the policy to every running child at its latest interval; cancel those it stops,
    saying why. Returns the stopped children's ids."""
    sweep = Sweep.objects.select_related("run").filter(run_id=parent_id).first()
    if sweep is None or not sweep.config["policy"] or sweep.state != Sweep.State.RUNNING:
        return []
    trials = {t.run_id: t for t in sweep.trials.select_related("run")}
    series = selectors.primary_series(sweep=sweep)
    finished = frozenset(i for i, t in trials.items() if t.run.is_final)
    judge = policies.Judge(series, maximize=sweep.maximize, finished=finished)
    stopped = []
    for run_id, trial in trials.items():
        if trial.run.status not in (RunStatus.RUNNING, RunStatus.STARTING):
            continue
        reason = policies.decide(sweep.config["policy"], judge, run_id)
        if reason is None:
            continue
        Trial.objects.filter(pk=trial.pk).update(stop_reason=reason[:500])
        run_services.run_cancel(run=trial.run, reason=reason)
        stopped.append(run_id)
    return stopped


def sweep_cancel(*, parent: Run) -> Run:
    """Cancel the sweep: its children are canceled, then it ends Canceled."""
    run_services.run_cancel(run=parent)
    sweep_advance(parent_id=parent.pk)
    parent.refresh_from_db()
    return parent


def sweeps_reconcile() -> int:
    """Carry every unfinished sweep one step on; returns how many were looked at."""
    ids = list(Sweep.objects.exclude(state=Sweep.State.ENDED).values_list("run_id", flat=True))
    for parent_id in ids:
        sweep_advance(parent_id=parent_id)
    return len(ids)
