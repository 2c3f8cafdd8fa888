"""Drawing hyperparameters. Pure: no Django. Random and grid are plain code; Bayesian asks
Optuna's TPE sampler, seeded with the results of finished children (and of earlier sweeps for a
warm start), so its proposals follow the results."""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """A finished trial: what it was given and the best primary metric it logged."""

    params: dict
    value: float


def _draw(rng: random.Random, name: str, args: list):
    if name == "choice":
        return rng.choice(args[0])
    if name == "randint":
        return rng.randrange(args[0])
    if name in ("uniform", "quniform"):
        value = rng.uniform(args[0], args[1])
    elif name in ("loguniform", "qloguniform"):
        value = math.exp(rng.uniform(args[0], args[1]))
    elif name in ("normal", "qnormal"):
        value = rng.gauss(args[0], args[1])
    else:  # lognormal, qlognormal
        value = math.exp(rng.gauss(args[0], args[1]))
    return _quantize(value, args[2]) if name.startswith("q") else value


def _quantize(value: float, q: float) -> float:
    rounded = round(value / q) * q
    return int(rounded) if float(q).is_integer() else round(rounded, 12)


def random_params(space: dict, *, seed: str) -> dict:
    """One draw per parameter; the same seed gives the same draw, so a retried task launches
    the child it meant to."""
    rng = random.Random(seed)  # noqa: S311 - reproducible draws, not secrets
    return {key: _draw(rng, name, args) for key, (name, args) in space.items()}


def grid_size(space: dict) -> int:
    return math.prod(len(args[0]) for _, args in space.values())


def grid_params(space: dict, *, index: int) -> dict | None:
    """The index-th combination of the choices (0-based), in order; None past the last."""
    if index >= grid_size(space):
        return None
    keys = list(space)
    combination = next(
        itertools.islice(itertools.product(*(space[k][1][0] for k in keys)), index, None)
    )
    return dict(zip(keys, combination, strict=True))


def _distributions(space: dict) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    made = {}
    for key, (name, args) in space.items():
        if name == "choice":
            made[key] = CategoricalDistribution(list(args[0]))
        else:  # uniform, quniform: quantised after the draw, as random sampling does
            made[key] = FloatDistribution(args[0], args[1])
    return made


def _fits(params: dict, distributions: dict) -> dict | None:
    """A past trial's params as Optuna accepts them, or None when they fall outside this space
    (an earlier sweep of a different space: its results cannot inform this one)."""
    if set(params) != set(distributions):
        return None
    fitted = {}
    for key, value in params.items():
        distribution = distributions[key]
        if hasattr(distribution, "choices"):
            if value not in distribution.choices:
                return None
            fitted[key] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            fitted[key] = min(max(float(value), distribution.low), distribution.high)
        else:
            return None
    return fitted


def bayesian_params(space: dict, *, history: list[Result], maximize: bool, seed: int) -> dict:
    """Optuna's TPE proposal given every finished result. The study is rebuilt from the stored
    results on each call: the database, not a process, keeps the sweep's state."""
    import optuna
    from optuna.trial import create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = _distributions(space)
    sampler = optuna.samplers.TPESampler(seed=seed + len(history), n_startup_trials=5)
    study = optuna.create_study(direction="maximize" if maximize else "minimize", sampler=sampler)
    for result in history:
        fitted = _fits(result.params, distributions)
        if fitted is not None and math.isfinite(result.value):
            study.add_trial(
                create_trial(params=fitted, distributions=distributions, value=result.value)
            )
    trial = study.ask(distributions)
    params = dict(trial.params)
    for key, (name, args) in space.items():
        if name == "quniform":
            params[key] = _quantize(params[key], args[2])
    return params
