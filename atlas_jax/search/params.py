"""Parameter types of a search space: `Float`, `Int` and `Choice`.

Each parameter maps its domain between three forms: its own values (what a config
receives), a unit coordinate in [0, 1] (linear or logarithmic in the value, used
by the meta-learned prior to compare configs across tasks) and a nevergrad
parameter (what an optimizer mutates).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from atlas_jax.errors import ConfigError

# Smallest spread of a prior, in unit coordinates. A prior narrower than this would
# stop the optimizer from exploring the rest of the range.
MIN_PRIOR_SPREAD = 0.05
# Largest spread, in unit coordinates: nevergrad warns when the bounds of a parameter are
# less than 3 standard steps apart, and a prior wider than that is close to uniform anyway.
MAX_PRIOR_SPREAD = 0.3


def _spread(prior: "ParamPrior") -> float:
    """Return the prior's spread clamped to [MIN_PRIOR_SPREAD, MAX_PRIOR_SPREAD]."""
    return min(max(float(prior.spread), MIN_PRIOR_SPREAD), MAX_PRIOR_SPREAD)


@dataclass(frozen=True)
class ParamPrior:
    """Initial distribution of one parameter for a nevergrad optimizer.

    Attributes:
        center: a value in the parameter's domain, used as the optimizer's initial point.
        spread: standard deviation in unit coordinates (a fraction of the range, measured
            on the log scale for log parameters); ignored by unordered `Choice`. The
            nevergrad parametrization clamps it to [0.05, 0.3].
        weights: unordered `Choice` only: one non-negative weight per option, which sets
            the initial sampling probabilities. None keeps them uniform.
    """

    center: Any
    spread: float = 1.0 / 6.0
    weights: Sequence[float] | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(float(self.spread)):
            raise ConfigError(f"invalid prior spread {self.spread!r} (center {self.center!r}): expected a finite "
                              f"fraction of the range, which is clamped to [{MIN_PRIOR_SPREAD}, {MAX_PRIOR_SPREAD}]")


def _check_condition(when: Mapping[str, Any] | None) -> dict[str, tuple]:
    if when is None:
        return {}
    if not isinstance(when, Mapping) or not when:
        raise ConfigError(
            f"invalid condition {when!r}: pass a non-empty dict mapping a Choice path to the "
            "value (or list of values) that activates this parameter"
        )
    result = {}
    for path, values in when.items():
        if isinstance(values, (list, tuple, set, frozenset)):
            values = tuple(values)
        else:
            values = (values,)
        if not values:
            raise ConfigError(f"invalid condition on '{path}': the list of activating values is empty")
        result[str(path)] = values
    return result


class Param:
    """Base class of a searchable parameter.

    Args:
        when: condition that makes the parameter active, as {choice_path: value or list of
            values}; with several entries all must hold. None: always active.
    """

    def __init__(self, when: Mapping[str, Any] | None = None) -> None:
        self.when = _check_condition(when)

    # Subclasses implement the methods below.
    def sample(self, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def check(self, value: Any, path: str) -> Any:
        """Return `value` cast to the parameter's type, or raise ConfigError if outside the domain."""
        raise NotImplementedError

    def to_unit(self, value: Any) -> float:
        raise NotImplementedError

    def from_unit(self, unit: float) -> Any:
        raise NotImplementedError

    def to_nevergrad(self, prior: ParamPrior | None = None) -> Any:
        raise NotImplementedError

    def from_nevergrad(self, value: Any) -> Any:
        raise NotImplementedError

    def nevergrad_value(self, value: Any) -> Any:
        """Map a value of the domain to the value its nevergrad parameter holds."""
        raise NotImplementedError

    def with_bounds(self, override: Any, path: str) -> Param:
        """Return a copy of this parameter with bounds or options replaced by `override`."""
        raise NotImplementedError

    def _condition_repr(self) -> str:
        return f", when={ {k: list(v) for k, v in self.when.items()} }" if self.when else ""


def _as_number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"invalid {what} {value!r}: expected a number")
    if not math.isfinite(float(value)):
        raise ConfigError(f"invalid {what} {value!r}: expected a finite number")
    return float(value)


def _bounds_from_override(override: Any, path: str) -> dict[str, Any]:
    """Read a bound override: [low, high], (low, high) or {low: .., high: .., log: ..}."""
    if isinstance(override, Mapping):
        unknown = set(override) - {"low", "high", "log", "step"}
        if unknown:
            raise ConfigError(
                f"invalid bound override for '{path}': unknown keys {sorted(unknown)}; "
                "valid keys: low, high, log, step"
            )
        return dict(override)
    if isinstance(override, Sequence) and not isinstance(override, str) and len(override) == 2:
        return {"low": override[0], "high": override[1]}
    raise ConfigError(
        f"invalid bound override {override!r} for '{path}': pass [low, high] or "
        "{low: ..., high: ..., log: ...}"
    )


class Float(Param):
    """A real number in [low, high], sampled uniformly or log-uniformly.

    Args:
        low: lower bound (inclusive).
        high: upper bound (inclusive); must exceed `low`.
        log: sample and search on a logarithmic scale; needs low > 0.
        when: condition that activates the parameter (see `Param`).

    Raises:
        ConfigError: if low >= high, a bound is not finite, or log=True with low <= 0.
    """

    def __init__(self, low: float, high: float, log: bool = False, *, when: Mapping[str, Any] | None = None):
        super().__init__(when)
        self.low = _as_number(low, "Float low bound")
        self.high = _as_number(high, "Float high bound")
        self.log = bool(log)
        if self.low >= self.high:
            raise ConfigError(f"invalid Float bounds: low={low!r} >= high={high!r}; low must be below high")
        if self.log and self.low <= 0:
            raise ConfigError(
                f"invalid Float bounds for log scale: low={low!r} must be > 0; "
                "use log=False or a positive low bound"
            )

    def __repr__(self) -> str:
        return f"Float({self.low!r}, {self.high!r}, log={self.log}{self._condition_repr()})"

    def sample(self, rng: np.random.Generator) -> float:
        return self.from_unit(float(rng.uniform()))

    def check(self, value: Any, path: str) -> float:
        number = _as_number(value, f"value for '{path}'")
        if not self.low <= number <= self.high:
            raise ConfigError(f"invalid value {value!r} for '{path}': outside [{self.low!r}, {self.high!r}]")
        return number

    def to_unit(self, value: Any) -> float:
        if self.log:
            span = math.log(self.high) - math.log(self.low)
            return (math.log(float(value)) - math.log(self.low)) / span
        return (float(value) - self.low) / (self.high - self.low)

    def from_unit(self, unit: float) -> float:
        unit = min(max(float(unit), 0.0), 1.0)
        if self.log:
            value = math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + unit * (self.high - self.low)
        return min(max(value, self.low), self.high)  # exp/log round-off must not leave the bounds

    def to_nevergrad(self, prior: ParamPrior | None = None) -> Any:
        import nevergrad as ng

        if prior is None:
            if self.log:
                return ng.p.Log(lower=self.low, upper=self.high)
            return ng.p.Scalar(lower=self.low, upper=self.high)
        center = self.check(prior.center, "prior center")
        spread = _spread(prior)
        if self.log:
            # nevergrad's Log takes one standard step as a multiplicative `exponent`.
            exponent = math.exp(spread * (math.log(self.high) - math.log(self.low)))
            return ng.p.Log(init=center, exponent=exponent, lower=self.low, upper=self.high)
        param = ng.p.Scalar(init=center, lower=self.low, upper=self.high)
        return param.set_mutation(sigma=spread * (self.high - self.low))

    def from_nevergrad(self, value: Any) -> float:
        return min(max(float(value), self.low), self.high)

    def nevergrad_value(self, value: Any) -> float:
        return float(value)

    def with_bounds(self, override: Any, path: str) -> Float:
        bounds = _bounds_from_override(override, path)
        if "step" in bounds:
            raise ConfigError(f"invalid bound override for '{path}': Float has no step")
        return Float(bounds.get("low", self.low), bounds.get("high", self.high),
                     log=bounds.get("log", self.log), when=self._when_arg())

    def _when_arg(self) -> dict[str, list] | None:
        return {k: list(v) for k, v in self.when.items()} or None


class Int(Param):
    """An integer in {low, low + step, ..., high}, sampled uniformly or log-uniformly.

    With log=True a value is drawn log-uniformly in [low, high] and rounded to the
    nearest grid point, so the two end points get half the mass of their neighbours.

    Args:
        low: smallest value (inclusive).
        high: largest value (inclusive); `high - low` must be a positive multiple of `step`.
        log: sample and search on a logarithmic scale; needs low > 0.
        step: spacing of the allowed values (positive).
        when: condition that activates the parameter (see `Param`).

    Raises:
        ConfigError: on non-integer bounds, low >= high, step <= 0, a range that is not a
            multiple of step, or log=True with low <= 0.
    """

    def __init__(self, low: int, high: int, log: bool = False, step: int = 1, *,
                 when: Mapping[str, Any] | None = None):
        super().__init__(when)
        for name, value in (("low", low), ("high", high), ("step", step)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"invalid Int {name} {value!r}: expected an integer")
        self.low, self.high, self.step, self.log = int(low), int(high), int(step), bool(log)
        if self.low >= self.high:
            raise ConfigError(f"invalid Int bounds: low={low!r} >= high={high!r}; low must be below high")
        if self.step <= 0:
            raise ConfigError(f"invalid Int step {step!r}: must be positive")
        if (self.high - self.low) % self.step:
            raise ConfigError(
                f"invalid Int range [{low}, {high}] with step {step}: high - low must be a multiple of step"
            )
        if self.log and self.low <= 0:
            raise ConfigError(
                f"invalid Int bounds for log scale: low={low!r} must be > 0; use log=False or low >= 1"
            )
        self.size = (self.high - self.low) // self.step + 1

    def __repr__(self) -> str:
        return (f"Int({self.low}, {self.high}, log={self.log}, step={self.step}"
                f"{self._condition_repr()})")

    def _snap(self, value: float) -> int:
        index = round((min(max(value, self.low), self.high) - self.low) / self.step)
        return self.low + int(index) * self.step

    def sample(self, rng: np.random.Generator) -> int:
        if not self.log:
            return self.low + int(rng.integers(self.size)) * self.step
        return self.from_unit(float(rng.uniform()))

    def check(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer, float, np.floating)):
            raise ConfigError(f"invalid value {value!r} for '{path}': expected an integer")
        if float(value) != int(value):
            raise ConfigError(f"invalid value {value!r} for '{path}': expected an integer")
        number = int(value)
        if not self.low <= number <= self.high:
            raise ConfigError(f"invalid value {value!r} for '{path}': outside [{self.low}, {self.high}]")
        if (number - self.low) % self.step:
            raise ConfigError(
                f"invalid value {value!r} for '{path}': not on the grid {self.low} + k * {self.step}"
            )
        return number

    def to_unit(self, value: Any) -> float:
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (int(value) - self.low) / (self.high - self.low)

    def from_unit(self, unit: float) -> int:
        unit = min(max(float(unit), 0.0), 1.0)
        if self.log:
            return self._snap(math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low))))
        return self._snap(self.low + unit * (self.high - self.low))

    def to_nevergrad(self, prior: ParamPrior | None = None) -> Any:
        import nevergrad as ng

        spread = None if prior is None else _spread(prior)
        center = None if prior is None else self.check(prior.center, "prior center")
        if self.log:
            if prior is None:
                param = ng.p.Log(lower=self.low, upper=self.high)
            else:
                exponent = math.exp(spread * (math.log(self.high) - math.log(self.low)))
                param = ng.p.Log(init=float(center), exponent=exponent, lower=self.low, upper=self.high)
            return param
        # Linear integers are searched as a grid index. The half-step margins give both end
        # points the same share of the range as inner points after rounding.
        lower, upper = -0.499, self.size - 1 + 0.499
        if prior is None:
            param = ng.p.Scalar(lower=lower, upper=upper)
        else:
            param = ng.p.Scalar(init=float((center - self.low) // self.step), lower=lower, upper=upper)
            param.set_mutation(sigma=spread * (self.size - 1))
        return param.set_integer_casting()

    def from_nevergrad(self, value: Any) -> int:
        if self.log:
            return self._snap(float(value))
        index = min(max(int(round(float(value))), 0), self.size - 1)
        return self.low + index * self.step

    def nevergrad_value(self, value: Any) -> int | float:
        if self.log:
            return float(value)
        return (int(value) - self.low) // self.step

    def with_bounds(self, override: Any, path: str) -> Int:
        bounds = _bounds_from_override(override, path)
        return Int(bounds.get("low", self.low), bounds.get("high", self.high),
                   log=bounds.get("log", self.log), step=bounds.get("step", self.step),
                   when={k: list(v) for k, v in self.when.items()} or None)


def _same_option(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from the numbers 0 and 1."""
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return isinstance(a, (bool, np.bool_)) and isinstance(b, (bool, np.bool_)) and bool(a) == bool(b)
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays compared elementwise
        return False


class Choice(Param):
    """One of a fixed list of options (any JSON-ready values: numbers, strings, lists, dicts).

    Args:
        options: the candidate values; at least one, no duplicates.
        ordered: the options lie on a scale (such as widths [64, 128, 256]), so the
            optimizer searches them as neighbouring grid points. Otherwise it treats them
            as unrelated categories.
        when: condition that activates the parameter (see `Param`).

    Raises:
        ConfigError: if `options` is empty, not a list, or holds duplicates.
    """

    def __init__(self, options: Sequence[Any], ordered: bool = False, *, when: Mapping[str, Any] | None = None):
        super().__init__(when)
        if isinstance(options, (str, bytes, Mapping)) or not isinstance(options, Sequence):
            raise ConfigError(f"invalid Choice options {options!r}: expected a list of values")
        if len(options) == 0:
            raise ConfigError("invalid Choice: the list of options is empty; give at least one option")
        self.options = [copy.deepcopy(option) for option in options]
        for i, option in enumerate(self.options):
            if any(_same_option(option, earlier) for earlier in self.options[:i]):
                raise ConfigError(f"invalid Choice options: {option!r} appears more than once in {options!r}")
        self.ordered = bool(ordered)

    def __repr__(self) -> str:
        return f"Choice({self.options!r}, ordered={self.ordered}{self._condition_repr()})"

    def index(self, value: Any) -> int:
        """Position of `value` among the options; compares by equality, with 1 == 1.0 but True != 1."""
        for i, option in enumerate(self.options):
            if _same_option(option, value):
                return i
        raise ValueError(value)

    def sample(self, rng: np.random.Generator) -> Any:
        return copy.deepcopy(self.options[int(rng.integers(len(self.options)))])

    def check(self, value: Any, path: str) -> Any:
        try:
            return copy.deepcopy(self.options[self.index(value)])
        except ValueError:
            raise ConfigError(f"invalid value {value!r} for '{path}': expected one of {self.options!r}") from None

    def to_unit(self, value: Any) -> float:
        if len(self.options) == 1:
            return 0.5
        return self.index(value) / (len(self.options) - 1)

    def from_unit(self, unit: float) -> Any:
        unit = min(max(float(unit), 0.0), 1.0)
        return copy.deepcopy(self.options[int(round(unit * (len(self.options) - 1)))])

    def to_nevergrad(self, prior: ParamPrior | None = None) -> Any:
        import nevergrad as ng

        count = len(self.options)
        if self.ordered:
            # Searched as a grid index, like a linear Int, so neighbours are close.
            if prior is None:
                param = ng.p.Scalar(lower=-0.499, upper=count - 1 + 0.499)
            else:
                center = self.index(self.check(prior.center, "prior center"))
                param = ng.p.Scalar(init=float(center), lower=-0.499, upper=count - 1 + 0.499)
                param.set_mutation(sigma=_spread(prior) * max(count - 1, 1))
            return param.set_integer_casting()
        # The option index goes to nevergrad rather than the option, because options such as
        # lists and dicts are not hashable and nevergrad compares choices by value.
        param = ng.p.Choice(list(range(count)))
        if prior is not None:
            logits = self._prior_logits(prior)
            param["indices"].set_standardized_data(logits)
        return param

    def _prior_logits(self, prior: ParamPrior) -> np.ndarray:
        count = len(self.options)
        if prior.weights is not None:
            weights = np.asarray(prior.weights, dtype=float)
            if weights.shape != (count,) or np.any(weights < 0) or not np.isfinite(weights).all() \
                    or weights.sum() <= 0:
                raise ConfigError(
                    f"invalid prior weights {list(prior.weights)!r}: expected {count} non-negative "
                    "numbers with a positive sum"
                )
        else:
            weights = np.full(count, 1.0)
            weights[self.index(self.check(prior.center, "prior center"))] += 1.0
        probabilities = weights / weights.sum()
        # Mixing with the uniform distribution keeps every option reachable.
        probabilities = 0.8 * probabilities + 0.2 / count
        logits = np.log(probabilities)
        return logits - logits.mean()

    def from_nevergrad(self, value: Any) -> Any:
        index = min(max(int(round(float(value))), 0), len(self.options) - 1)
        return copy.deepcopy(self.options[index])

    def nevergrad_value(self, value: Any) -> int:
        """Map an option to its nevergrad value, the option's index."""
        return self.index(value)

    def with_bounds(self, override: Any, path: str) -> Choice:
        options = override.get("options") if isinstance(override, Mapping) else override
        if isinstance(override, Mapping) and set(override) - {"options"}:
            raise ConfigError(f"invalid override for Choice '{path}': use a list of options or {{options: [...]}}")
        return Choice(options, ordered=self.ordered, when={k: list(v) for k, v in self.when.items()} or None)
