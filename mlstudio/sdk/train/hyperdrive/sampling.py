"""v1's parameter samplings. The studio samples (Bayesian through Optuna); these only describe
the space and which method to use."""

from __future__ import annotations

from mlstudio.sdk.train.hyperdrive import _spec


class HyperParameterSampling:
    """The base of the samplings: a method name and a space of parameter expressions."""

    def __init__(self, sampling_method_name: str, parameter_space: dict, properties=None):
        self._sampling_method_name = sampling_method_name
        self._parameter_space = _spec.space_check(sampling_method_name, parameter_space)
        self._properties = dict(properties or {})

    def to_json(self) -> dict:
        return {
            "method": self._sampling_method_name,
            "space": self._parameter_space,
            "properties": self._properties,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._parameter_space!r})"


class RandomParameterSampling(HyperParameterSampling):
    """Every expression; `properties={"rngSeed": 7}` makes the draws repeatable."""

    def __init__(self, parameter_space: dict, properties: dict | None = None):
        super().__init__("random", parameter_space, properties)


class GridParameterSampling(HyperParameterSampling):
    """Every combination of `choice` values, in order."""

    def __init__(self, parameter_space: dict, properties: dict | None = None):
        super().__init__("grid", parameter_space, properties)


class BayesianParameterSampling(HyperParameterSampling):
    """`choice`, `uniform`, `quniform`; the studio samples with Optuna, seeded by the results of
    finished children (and of `resume_from` sweeps)."""

    def __init__(self, parameter_space: dict, properties: dict | None = None):
        super().__init__("bayesian", parameter_space, properties)
