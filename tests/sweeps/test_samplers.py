"""The samplers, without Django: random draws each expression in its range, grid walks every
combination, Bayesian proposes through Optuna from the results it is given."""

import math
import random

from mlstudio.sdk.train.hyperdrive import (
    choice,
    lognormal,
    loguniform,
    normal,
    qloguniform,
    quniform,
    randint,
    uniform,
)
from sweeps import samplers


def space_of(**expressions) -> dict:
    return {f"--{k}": v for k, v in expressions.items()}


def test_it_draws_every_expression_in_its_range():
    space = space_of(
        c=choice(16, 32, 64), r=randint(5), u=uniform(0.1, 0.2), q=quniform(0, 10, 2),
        lu=loguniform(-6, -1), qlu=qloguniform(0, 3, 1), n=normal(0, 1), ln=lognormal(0, 0.5),
    )  # fmt: skip
    for i in range(200):
        p = samplers.random_params(space, seed=f"s-{i}")
        assert p["--c"] in (16, 32, 64)
        assert p["--r"] in range(5)
        assert 0.1 <= p["--u"] <= 0.2
        assert p["--q"] in (0, 2, 4, 6, 8, 10)
        assert math.exp(-6) <= p["--lu"] <= math.exp(-1)  # exp of a uniform, as v1
        assert float(p["--qlu"]).is_integer()
        assert p["--ln"] > 0


def test_it_draws_the_same_child_for_the_same_seed():
    space = space_of(u=uniform(0, 1))
    assert samplers.random_params(space, seed="7-3") == samplers.random_params(space, seed="7-3")
    assert samplers.random_params(space, seed="7-3") != samplers.random_params(space, seed="7-4")


def test_it_walks_the_grid_in_order_and_stops():
    space = space_of(a=choice(1, 2), b=choice("x", "y", "z"))
    seen = [samplers.grid_params(space, index=i) for i in range(6)]
    assert seen[0] == {"--a": 1, "--b": "x"} and seen[5] == {"--a": 2, "--b": "z"}
    assert len({tuple(p.items()) for p in seen}) == 6
    assert samplers.grid_params(space, index=6) is None


def test_bayesian_follows_the_results_it_is_given():
    space = space_of(x=uniform(0, 10), k=choice("a", "b"))
    rng = random.Random(1)
    history = []
    for _ in range(30):
        x, k = rng.uniform(0, 10), rng.choice("ab")
        history.append(samplers.Result({"--x": x, "--k": k}, -((x - 8) ** 2) + (k == "b")))
    proposals = [
        samplers.bayesian_params(space, history=history, maximize=True, seed=s) for s in range(8)
    ]
    assert all(0 <= p["--x"] <= 10 and p["--k"] in ("a", "b") for p in proposals)
    near = sum(abs(p["--x"] - 8) < 1.5 for p in proposals)
    assert near >= 6, proposals  # TPE concentrates where the results were good


def test_bayesian_quantizes_and_ignores_results_of_another_space():
    space = space_of(x=quniform(0, 10, 1))
    other = [samplers.Result({"--y": 1}, 3.0), samplers.Result({"--x": "text"}, 1.0)]
    p = samplers.bayesian_params(space, history=other, maximize=False, seed=1)
    assert float(p["--x"]).is_integer()
