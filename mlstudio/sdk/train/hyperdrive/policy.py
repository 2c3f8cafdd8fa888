"""v1's early termination policies, plus SuccessiveHalvingPolicy (an MLStudio addition). One
interval is one logged value of the primary metric. The studio applies the rules each time a
child logs it, and names the rule and its numbers in the stopped child's status."""

from __future__ import annotations

from mlstudio.sdk.exceptions import UserErrorException


def _whole(name: str, value, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        raise UserErrorException(
            f"{name} must be a whole number of at least {lowest}, not {value!r}."
        )
    return value


def _positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise UserErrorException(f"{name} must be a number of at least 0, not {value!r}.")
    return value


class EarlyTerminationPolicy:
    """The base: a name and its properties."""

    def __init__(self, name: str, properties: dict | None = None):
        self._name = name
        self._properties = dict(properties or {})

    def to_json(self) -> dict:
        return {"name": self._name, "properties": self._properties}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._properties!r})"


class _Interval(EarlyTerminationPolicy):
    def __init__(self, name: str, evaluation_interval, delay_evaluation, **properties):
        super().__init__(
            name,
            {
                "evaluation_interval": _whole("evaluation_interval", evaluation_interval, 1),
                "delay_evaluation": _whole("delay_evaluation", delay_evaluation, 0),
                **properties,
            },
        )

    @property
    def evaluation_interval(self) -> int:
        return self._properties["evaluation_interval"]

    @property
    def delay_evaluation(self) -> int:
        return self._properties["delay_evaluation"]


class BanditPolicy(_Interval):
    """Stops a child whose best value is not within the slack of the best child's: below
    best / (1 + slack_factor), or best - slack_amount, when maximizing."""

    def __init__(self, evaluation_interval=1, slack_factor=None, slack_amount=None,
                 delay_evaluation=0):  # fmt: skip
        if (slack_factor is None) == (slack_amount is None):
            raise UserErrorException(
                "BanditPolicy needs exactly one of slack_factor (a ratio, e.g. 0.1) or "
                "slack_amount (an absolute distance, e.g. 0.05)."
            )
        if slack_factor is not None:
            _positive("slack_factor", slack_factor)
        else:
            _positive("slack_amount", slack_amount)
        super().__init__("Bandit", evaluation_interval, delay_evaluation,
                         slack_factor=slack_factor, slack_amount=slack_amount)  # fmt: skip

    @property
    def slack_factor(self):
        return self._properties["slack_factor"]

    @property
    def slack_amount(self):
        return self._properties["slack_amount"]


class MedianStoppingPolicy(_Interval):
    """Stops a child whose best value is worse than the median of the other children's running
    averages at the same interval."""

    def __init__(self, evaluation_interval=1, delay_evaluation=0):
        super().__init__("MedianStopping", evaluation_interval, delay_evaluation)


class TruncationSelectionPolicy(_Interval):
    """At each evaluation, stops a child among the lowest `truncation_percentage` percent of the
    children's values at that interval."""

    def __init__(self, truncation_percentage, evaluation_interval=1, delay_evaluation=0,
                 exclude_finished_jobs=False):  # fmt: skip
        if (
            isinstance(truncation_percentage, bool)
            or not isinstance(truncation_percentage, int)
            or not 1 <= truncation_percentage <= 99
        ):
            raise UserErrorException(
                f"truncation_percentage must be a whole number from 1 to 99, not "
                f"{truncation_percentage!r}."
            )
        super().__init__("TruncationSelection", evaluation_interval, delay_evaluation,
                         truncation_percentage=truncation_percentage,
                         exclude_finished_jobs=bool(exclude_finished_jobs))  # fmt: skip


class SuccessiveHalvingPolicy(EarlyTerminationPolicy):
    """ASHA-style: rungs at min_resource x reduction_factor^k intervals; at each rung only the
    top 1/reduction_factor of the children that reached it go on. Works with every sampling,
    Bayesian too."""

    def __init__(self, min_resource=1, reduction_factor=3):
        super().__init__(
            "SuccessiveHalving",
            {
                "min_resource": _whole("min_resource", min_resource, 1),
                "reduction_factor": _whole("reduction_factor", reduction_factor, 2),
            },
        )


class NoTerminationPolicy(EarlyTerminationPolicy):
    """Every child runs to its end."""

    def __init__(self):
        super().__init__("Default")
