"""The rules a sweep configuration must follow, checked by the SDK before anything is sent and
by the studio again at submit (it imports this module: one set of rules, one set of messages).
Only the standard library."""

from __future__ import annotations

from mlstudio.sdk.exceptions import UserErrorException

# expression name -> how many arguments it takes
EXPRESSIONS = {
    "choice": 1,
    "randint": 1,
    "uniform": 2,
    "quniform": 3,
    "loguniform": 2,
    "qloguniform": 3,
    "normal": 2,
    "qnormal": 3,
    "lognormal": 2,
    "qlognormal": 3,
}
ALLOWED = {
    "random": set(EXPRESSIONS),
    "grid": {"choice"},
    "bayesian": {"choice", "uniform", "quniform"},
}
SAMPLING_CLASS = {
    "random": "RandomParameterSampling",
    "grid": "GridParameterSampling",
    "bayesian": "BayesianParameterSampling",
}
GOALS = ("MAXIMIZE", "MINIMIZE")
POLICIES = ("Bandit", "MedianStopping", "TruncationSelection", "SuccessiveHalving", "Default")
MAX_TOTAL_RUNS = 10000
MAX_RESUME_FROM = 5


def argument_name(key: str) -> str:
    """A space key written without `--` gets it, as v1 passed `--name value`."""
    return key if key.startswith("-") else f"--{key}"


def space_check(method: str, space) -> dict:
    """The space with `--`-prefixed names; refuses what `method` cannot sample."""
    if method not in ALLOWED:
        raise UserErrorException(f"Unknown sampling {method!r}; use one of {', '.join(ALLOWED)}.")
    if not isinstance(space, dict) or not space:
        raise UserErrorException(
            f"{SAMPLING_CLASS[method]} needs a non-empty search space, e.g. "
            "{'--learning_rate': uniform(0.001, 0.1)}."
        )
    checked = {}
    for key, expression in space.items():
        name = _expression_name(key, expression)
        if name not in ALLOWED[method]:
            raise UserErrorException(
                f"{SAMPLING_CLASS[method]} cannot sample {key!r} ({name}): it takes only "
                f"{', '.join(sorted(ALLOWED[method]))}. Use RandomParameterSampling for {name}."
            )
        checked[argument_name(str(key))] = [name, list(expression[1])]
    return checked


def _expression_name(key, expression) -> str:
    if (
        not isinstance(key, str)
        or not isinstance(expression, list | tuple)
        or len(expression) != 2
        or not isinstance(expression[1], list | tuple)
    ):
        raise UserErrorException(
            f"Search space entry {key!r}: {expression!r} is not a parameter expression; build it "
            "with mlstudio.sdk.train.hyperdrive.parameter_expressions (choice, uniform, ...)."
        )
    name = expression[0]
    if name not in EXPRESSIONS:
        raise UserErrorException(
            f"Unknown parameter expression {name!r} for {key!r}; use one of "
            f"{', '.join(EXPRESSIONS)}."
        )
    if len(expression[1]) != EXPRESSIONS[name]:
        raise UserErrorException(
            f"{name} for {key!r} takes {EXPRESSIONS[name]} argument(s), got {len(expression[1])}."
        )
    return name


def _whole(name: str, value, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise UserErrorException(
            f"{name} must be a whole number of at least {lowest}, not {value!r}."
        )
    return value


def counts_check(max_total_runs, max_concurrent_runs, max_duration_minutes) -> tuple[int, int, int]:
    total = _whole("max_total_runs", max_total_runs, 1)
    if total > MAX_TOTAL_RUNS:
        raise UserErrorException(f"max_total_runs {total} is above the limit of {MAX_TOTAL_RUNS}.")
    concurrent = total if max_concurrent_runs is None else max_concurrent_runs
    concurrent = _whole("max_concurrent_runs", concurrent, 1)
    if concurrent > total:
        raise UserErrorException(
            f"max_concurrent_runs ({concurrent}) is above max_total_runs ({total}); lower "
            "max_concurrent_runs or raise max_total_runs."
        )
    return total, concurrent, _whole("max_duration_minutes", max_duration_minutes, 1)


def goal_check(goal) -> str:
    text = str(getattr(goal, "value", goal) or "").upper()
    if text not in GOALS:
        raise UserErrorException(
            f"primary_metric_goal must be PrimaryMetricGoal.MAXIMIZE or .MINIMIZE, not {goal!r}."
        )
    return text


def policy_check(method: str, policy: dict | None) -> dict | None:
    """v1 refused early termination with Bayesian sampling; the successive-halving policy (an
    MLStudio addition) is the one that works with it."""
    if policy is None or policy.get("name") == "Default":
        return None
    if policy.get("name") not in POLICIES:
        raise UserErrorException(f"Unknown early termination policy {policy.get('name')!r}.")
    if method == "bayesian" and policy["name"] != "SuccessiveHalving":
        raise UserErrorException(
            f"BayesianParameterSampling does not support {policy['name']}Policy (as in v1): "
            "use policy=None or NoTerminationPolicy(), or SuccessiveHalvingPolicy for early "
            "termination of a Bayesian sweep."
        )
    return policy


def config_check(config: dict) -> dict:
    """The sweep's JSON as the SDK sends it, checked and normalised; raises on the first
    problem, naming it and the fix."""
    sampling = config.get("sampling") or {}
    method = sampling.get("method")
    space = space_check(method, sampling.get("space"))
    total, concurrent, minutes = counts_check(
        config.get("max_total_runs"),
        config.get("max_concurrent_runs"),
        config.get("max_duration_minutes", 10080),
    )
    metric = config.get("primary_metric_name")
    if not isinstance(metric, str) or not metric.strip():
        raise UserErrorException("primary_metric_name must name the metric the script logs.")
    resume_from = list(config.get("resume_from") or [])
    if len(resume_from) > MAX_RESUME_FROM:
        raise UserErrorException(
            f"resume_from takes at most {MAX_RESUME_FROM} earlier sweeps, got {len(resume_from)}."
        )
    if not isinstance(config.get("run_config"), dict):
        raise UserErrorException("Give exactly one of run_config (a ScriptRunConfig) or estimator.")
    return {
        "sampling": {"method": method, "space": space,
                     "properties": dict(sampling.get("properties") or {})},
        "primary_metric_name": metric,
        "primary_metric_goal": goal_check(config.get("primary_metric_goal")),
        "max_total_runs": total,
        "max_concurrent_runs": concurrent,
        "max_duration_minutes": minutes,
        "policy": policy_check(method, config.get("policy")),
        "run_config": config["run_config"],
        "resume_from": [str(run_id) for run_id in resume_from],
        "resume_child_runs": [str(run_id) for run_id in config.get("resume_child_runs") or []],
    }  # fmt: skip
