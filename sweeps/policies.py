"""Early termination rules. Pure: no Django. `decide` judges one child at its latest interval
(an interval is one logged value of the primary metric) against every child's values, and
returns the reason it must stop, with the numbers, or None.

v1's rules: Bandit compares the child's best so far with the best of all children up to the
same interval, allowing best / (1 + slack_factor) or best - slack_amount (the mirror images
when minimizing); MedianStopping stops a child whose best so far is worse than the median of
the other children's running averages at that interval; TruncationSelection stops a child among
the lowest `truncation_percentage` percent of the values at that interval. They apply at every
multiple of evaluation_interval that is at least delay_evaluation. SuccessiveHalving (ASHA)
keeps, at rungs min_resource x reduction_factor^k, only the top 1/reduction_factor of the
children that reached the rung.
"""

from __future__ import annotations

import math
import statistics


def _fmt(value: float) -> str:
    return f"{value:.4g}"


class Judge:
    """The sweep's view of the primary metric: {child id: values in log order}."""

    def __init__(self, series: dict[str, list[float]], *, maximize: bool,
                 finished: frozenset[str] = frozenset()):  # fmt: skip
        self.series = {
            k: [v for v in vs if isinstance(v, int | float) and math.isfinite(v)]
            for k, vs in series.items()
        }
        self.maximize = maximize
        self.finished = finished

    def best(self, values: list[float]) -> float:
        return max(values) if self.maximize else min(values)

    def worse(self, a: float, b: float) -> bool:
        """a is worse than b."""
        return a < b if self.maximize else a > b

    def reached(self, interval: int, *, exclude_finished: bool = False) -> dict[str, list[float]]:
        return {
            k: vs[:interval]
            for k, vs in self.series.items()
            if len(vs) >= interval and not (exclude_finished and k in self.finished)
        }


def _due(interval: int, properties: dict) -> bool:
    every = properties.get("evaluation_interval", 1)
    return interval % every == 0 and interval >= properties.get("delay_evaluation", 0)


def bandit(judge: Judge, child: str, interval: int, p: dict) -> str | None:
    mine = judge.best(judge.series[child][:interval])
    top = judge.best([judge.best(vs) for vs in judge.reached(interval).values()])
    factor, amount = p.get("slack_factor"), p.get("slack_amount")
    if factor is not None:
        limit = top / (1 + factor) if judge.maximize else top * (1 + factor)
        rule = (
            f"{_fmt(top)} / (1 + {factor})" if judge.maximize else f"{_fmt(top)} x (1 + {factor})"
        )
    else:
        limit = top - amount if judge.maximize else top + amount
        rule = f"{_fmt(top)} {'-' if judge.maximize else '+'} {amount}"
    if not judge.worse(mine, limit):
        return None
    side = "below" if judge.maximize else "above"
    return (f"canceled by BanditPolicy: best {_fmt(mine)} is {side} {rule} = {_fmt(limit)} "
            f"at interval {interval}")  # fmt: skip


def median_stopping(judge: Judge, child: str, interval: int, p: dict) -> str | None:
    others = {k: vs for k, vs in judge.reached(interval).items() if k != child}
    if not others:
        return None
    median = statistics.median(sum(vs) / len(vs) for vs in others.values())
    mine = judge.best(judge.series[child][:interval])
    if not judge.worse(mine, median):
        return None
    return (
        f"canceled by MedianStoppingPolicy: best {_fmt(mine)} is worse than the median "
        f"{_fmt(median)} of {len(others)} other running averages at interval {interval}"
    )


def truncation_selection(judge: Judge, child: str, interval: int, p: dict) -> str | None:
    at = {
        k: vs[interval - 1]
        for k, vs in judge.reached(
            interval, exclude_finished=p.get("exclude_finished_jobs")
        ).items()
    }
    at[child] = judge.series[child][interval - 1]
    percent = p["truncation_percentage"]
    cut = math.floor(len(at) * percent / 100)
    if cut == 0:
        return None
    worst_first = sorted(at.values(), reverse=judge.maximize is False)
    threshold = worst_first[cut - 1]
    mine = at[child]
    if judge.worse(threshold, mine):
        return None
    return (f"canceled by TruncationSelectionPolicy: {_fmt(mine)} is in the lowest {percent}% "
            f"({cut} of {len(at)}) at interval {interval}")  # fmt: skip


def successive_halving(judge: Judge, child: str, interval: int, p: dict) -> str | None:
    base, eta = p.get("min_resource", 1), p.get("reduction_factor", 3)
    rung = math.log(interval / base, eta) if interval >= base else -1
    if rung < 0 or abs(rung - round(rung)) > 1e-9:
        return None
    at = {k: judge.best(vs) for k, vs in judge.reached(interval).items()}
    keep = max(1, len(at) // eta)
    ranked = sorted(at.values(), reverse=judge.maximize)
    cutoff = ranked[keep - 1]
    mine = at[child]
    if not judge.worse(mine, cutoff):
        return None
    return (f"canceled by SuccessiveHalvingPolicy: best {_fmt(mine)} is not in the top {keep} "
            f"of {len(at)} at rung {round(rung)} (interval {interval}; the top is "
            f"{_fmt(ranked[0])}, the cut {_fmt(cutoff)})")  # fmt: skip


RULES = {
    "Bandit": bandit,
    "MedianStopping": median_stopping,
    "TruncationSelection": truncation_selection,
    "SuccessiveHalving": successive_halving,
}


def decide(policy: dict | None, judge: Judge, child: str) -> str | None:
    """Why `child` must stop now, or None. It is judged at its latest interval."""
    if not policy or policy.get("name") not in RULES or not judge.series.get(child):
        return None
    interval = len(judge.series[child])
    properties = policy.get("properties") or {}
    if policy["name"] != "SuccessiveHalving" and not _due(interval, properties):
        return None
    return RULES[policy["name"]](judge, child, interval, properties)
