"""v1's parameter expressions: each returns `[name, [arguments]]`, the shape HyperDrive sends.

`loguniform(a, b)` draws exp(uniform(a, b)), as v1 did: `loguniform(-6, -1)` gives e⁻⁶…e⁻¹.
"""

from __future__ import annotations

from mlstudio.sdk.exceptions import UserErrorException


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UserErrorException(f"{name} must be a number, not {value!r}.")
    return value


def choice(*options) -> list:
    """One of `options`: `choice(1, 2, 3)`, `choice([1, 2, 3])` or `choice(range(4))`."""
    if len(options) == 1 and isinstance(options[0], list | tuple | range):
        options = tuple(options[0])
    if not options:
        raise UserErrorException("choice() needs at least one option, e.g. choice(16, 32, 64).")
    for option in options:
        if isinstance(option, list | dict | tuple) or option is None:
            raise UserErrorException(
                f"choice() options must be numbers or strings, not {option!r}."
            )
    return ["choice", [list(options)]]


def randint(upper: int) -> list:
    """A whole number in [0, upper)."""
    if isinstance(upper, bool) or not isinstance(upper, int) or upper < 1:
        raise UserErrorException(f"randint(upper) needs a whole number upper >= 1, not {upper!r}.")
    return ["randint", [upper]]


def _bounds(name: str, min_value, max_value) -> list:
    low, high = _number("min_value", min_value), _number("max_value", max_value)
    if low >= high:
        raise UserErrorException(
            f"{name}(min_value, max_value) needs min_value < max_value, got {low} and {high}."
        )
    return [low, high]


def _q(q) -> float:
    if _number("q", q) <= 0:
        raise UserErrorException(f"q must be above 0, not {q!r}.")
    return q


def _sigma(sigma) -> float:
    if _number("sigma", sigma) <= 0:
        raise UserErrorException(f"sigma must be above 0, not {sigma!r}.")
    return sigma


def uniform(min_value, max_value) -> list:
    return ["uniform", _bounds("uniform", min_value, max_value)]


def quniform(min_value, max_value, q) -> list:
    """round(uniform(min_value, max_value) / q) * q."""
    return ["quniform", [*_bounds("quniform", min_value, max_value), _q(q)]]


def loguniform(min_value, max_value) -> list:
    return ["loguniform", _bounds("loguniform", min_value, max_value)]


def qloguniform(min_value, max_value, q) -> list:
    return ["qloguniform", [*_bounds("qloguniform", min_value, max_value), _q(q)]]


def normal(mu, sigma) -> list:
    return ["normal", [_number("mu", mu), _sigma(sigma)]]


def qnormal(mu, sigma, q) -> list:
    return ["qnormal", [_number("mu", mu), _sigma(sigma), _q(q)]]


def lognormal(mu, sigma) -> list:
    return ["lognormal", [_number("mu", mu), _sigma(sigma)]]


def qlognormal(mu, sigma, q) -> list:
    return ["qlognormal", [_number("mu", mu), _sigma(sigma), _q(q)]]
