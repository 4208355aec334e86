"""`Space`: a named set of parameters with conditions and constraints.

A space is written as nested dicts whose leaves are parameters (`Float`, `Int`,
`Choice`) or constants. Configs drawn from it are flat dicts keyed by dotted paths,
the same keys Hydra overrides use:

    space = Space(
        {
            "optim": {
                "name": Choice(["adamw", "sgd"]),
                "learning_rate": Float(1e-4, 1e-1, log=True),
                "momentum": Float(0.5, 0.99, when={"optim.name": "sgd"}),
            },
            "train": {"steps": 500},
        },
        constraints=[lambda v: v["optim.learning_rate"] < 0.05 or v["optim.name"] == "adamw"],
    )
    values = space.sample(0)          # {"optim.name": "adamw", "optim.learning_rate": ..., "train.steps": 500}
    space.to_overrides(values)        # ["optim.name=adamw", "optim.learning_rate=0.0031...", "train.steps=500"]

A plain dict inside the definition always means nesting; to search over (or fix) a
dict-valued setting, wrap it in a `Choice`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from atlas_jax.errors import ConfigError
from atlas_jax.search.overrides import format_override, parse_overrides
from atlas_jax.search.params import Choice, Param, ParamPrior, _same_option


class Constraint:
    """A condition that a config must satisfy, evaluated on its flat dict of active values.

    `fn(values)` returns either a bool (True: satisfied) or a violation amount
    (a number; values <= 0 mean satisfied). Inactive conditional parameters are absent
    from `values`, so use `values.get(path)` for them.
    """

    def __init__(self, fn: Callable[[dict[str, Any]], bool | float], name: str | None = None) -> None:
        if not callable(fn):
            raise ConfigError(f"invalid constraint {fn!r}: expected a callable taking the values dict")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "constraint")

    def __repr__(self) -> str:
        return f"Constraint({self.name})"

    def violation(self, values: Mapping[str, Any]) -> float:
        """Return how much `values` violates the constraint: 0.0 when satisfied."""
        result = self.fn(dict(values))
        if isinstance(result, (bool, np.bool_)):
            return 0.0 if result else 1.0
        if isinstance(result, (int, float, np.integer, np.floating)) and not math.isnan(float(result)):
            return max(0.0, float(result))
        raise ConfigError(
            f"constraint '{self.name}' returned {result!r}; it must return a bool or a violation amount"
        )


def _flatten_definition(definition: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in definition.items():
        if not isinstance(key, str) or not key or key.startswith(".") or key.endswith("."):
            raise ConfigError(f"invalid space key {key!r} under '{prefix or '<root>'}': expected a non-empty name")
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if not value:
                raise ConfigError(f"invalid space: '{path}' is an empty dict; remove it or add parameters")
            flat.update(_flatten_definition(value, prefix=path + "."))
        else:
            if path in flat:
                raise ConfigError(f"invalid space: '{path}' is defined twice")
            flat[path] = value
    return flat


class Space:
    """A search space: parameters, constants, conditions between them, and constraints.

    Args:
        definition: nested dict whose leaves are `Param` objects (searched) or plain
            values (constants, passed through to every config). Keys may also be dotted
            paths such as "optim.learning_rate".
        constraints: callables or `Constraint` objects evaluated on each config.

    Raises:
        ConfigError: for an empty space, a condition that names a missing or non-Choice
            parameter, an activating value that the Choice lacks, or a cycle of conditions.
    """

    def __init__(self, definition: Mapping[str, Any],
                 constraints: Iterable[Callable[[dict[str, Any]], bool | float] | Constraint] = ()) -> None:
        if not isinstance(definition, Mapping):
            raise ConfigError(f"invalid space definition {definition!r}: expected a dict")
        flat = _flatten_definition(definition)
        self.params: dict[str, Param] = {k: v for k, v in flat.items() if isinstance(v, Param)}
        self.constants: dict[str, Any] = {k: copy.deepcopy(v) for k, v in flat.items() if not isinstance(v, Param)}
        if not self.params:
            raise ConfigError("invalid space: it has no searchable parameter (Float, Int or Choice)")
        self.constraints = [c if isinstance(c, Constraint) else Constraint(c) for c in constraints]
        self._check_conditions()
        self._order = self._condition_order()


    def _check_conditions(self) -> None:
        for path, param in self.params.items():
            for parent, activating in param.when.items():
                if parent not in self.params:
                    raise ConfigError(
                        f"invalid condition on '{path}': '{parent}' is not a parameter of this space; "
                        f"parameters: {', '.join(self.params)}"
                    )
                choice = self.params[parent]
                if not isinstance(choice, Choice):
                    raise ConfigError(
                        f"invalid condition on '{path}': '{parent}' is a {type(choice).__name__}; "
                        "conditions must name a Choice"
                    )
                for value in activating:
                    choice.check(value, parent)

    def _condition_order(self) -> list[str]:
        """Order the parameters so that every condition's Choice precedes what it controls."""
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(path: str, chain: list[str]) -> None:
            if state.get(path) == "done":
                return
            if state.get(path) == "visiting":
                raise ConfigError(f"invalid space: conditions form a cycle: {' -> '.join(chain + [path])}")
            state[path] = "visiting"
            for parent in self.params[path].when:
                visit(parent, chain + [path])
            state[path] = "done"
            order.append(path)

        for path in self.params:
            visit(path, [])
        return order

    def __repr__(self) -> str:
        items = [f"{k!r}: {v!r}" for k, v in self.params.items()]
        items += [f"{k!r}: {v!r}" for k, v in self.constants.items()]
        return f"Space({{{', '.join(items)}}}, constraints={self.constraints!r})"

    def __len__(self) -> int:
        return len(self.params)

    def __contains__(self, path: object) -> bool:
        return path in self.params

    def __getitem__(self, path: str) -> Param:
        if path not in self.params:
            raise KeyError(f"'{path}' is not a parameter of this space; parameters: {', '.join(self.params)}")
        return self.params[path]

    @property
    def paths(self) -> list[str]:
        """Dotted paths of the searchable parameters, in definition order."""
        return list(self.params)

    def is_active(self, path: str, values: Mapping[str, Any]) -> bool:
        """Check whether parameter `path` is active, given the values of the Choices that control it."""
        param = self.params[path]
        for parent, activating in param.when.items():
            if parent not in values or not self.is_active(parent, values):
                return False
            choice = self.params[parent]
            if not any(choice.index(values[parent]) == choice.index(v) for v in activating):
                return False
        return True

    def with_bounds(self, bounds: Mapping[str, Any] | None) -> Space:
        """Return a copy with the bounds or options of some parameters replaced.

        Args:
            bounds: {path: override}, flat or nested. An override is [low, high] or
                {low, high, log, step} for Float and Int, a list of options (or
                {options: [...]}) for Choice, or, for a path that is not a parameter or
                to pin a parameter, {"value": x} which makes it a constant. Narrowing a
                Choice drops parameters that only its removed options activated.

        Raises:
            ConfigError: for an unknown path or an invalid override.
        """
        if not bounds:
            return self
        overrides = _flatten_bounds(bounds, self)
        definition: dict[str, Any] = {**self.params, **self.constants}
        for path, override in overrides.items():
            if isinstance(override, Mapping) and set(override) == {"value"}:
                definition[path] = copy.deepcopy(override["value"])
                continue
            if path not in self.params:
                raise ConfigError(
                    f"invalid bound override: '{path}' is not a parameter of this space; "
                    f"parameters: {', '.join(self.params)}"
                )
            try:
                definition[path] = self.params[path].with_bounds(override, path)
            except ConfigError as error:
                message = str(error)
                if f"'{path}'" in message:
                    raise
                raise ConfigError(f"invalid bound override for '{path}': {message}") from error
        return Space(_prune_conditions(definition), constraints=self.constraints)


    def sample(self, rng_or_seed: int | np.random.Generator | None = None, max_tries: int = 1000) -> dict[str, Any]:
        """Draw a config that satisfies every constraint (by rejection sampling).

        Args:
            rng_or_seed: a numpy Generator (advanced in place) or a seed.
            max_tries: draws to attempt before giving up.

        Returns:
            A flat dict {path: value} holding the active parameters and the constants.

        Raises:
            ConfigError: if no draw out of `max_tries` satisfies the constraints.
        """
        rng = rng_or_seed if isinstance(rng_or_seed, np.random.Generator) else np.random.default_rng(rng_or_seed)
        for _ in range(max_tries):
            values = self._sample_once(rng)
            if not any(self.violations(values)):
                return values
        raise ConfigError(
            f"no config out of {max_tries} random draws satisfies the constraints {self.constraints!r}; "
            "relax the constraints or widen the bounds"
        )

    def _sample_once(self, rng: np.random.Generator) -> dict[str, Any]:
        drawn: dict[str, Any] = {}
        for path in self._order:
            if self.is_active(path, drawn):
                drawn[path] = self.params[path].sample(rng)
        return self._ordered(drawn)

    def _ordered(self, drawn: Mapping[str, Any]) -> dict[str, Any]:
        """Lay out values in definition order, then the constants."""
        values = {path: drawn[path] for path in self.params if path in drawn}
        values.update(copy.deepcopy(self.constants))
        return values

    def violations(self, values: Mapping[str, Any]) -> list[float]:
        """Return each constraint's violation amount for `values` (all 0.0 when satisfied)."""
        flat = self.flatten(values)
        return [constraint.violation(flat) for constraint in self.constraints]

    def validate(self, values: Mapping[str, Any], check_constraints: bool = True) -> dict[str, Any]:
        """Check a config against the space and return it flat, cast and in canonical order.

        Args:
            values: flat ({"optim.learning_rate": ...}) or nested config values. Constants
                may be omitted; when given they must equal the space's value.
            check_constraints: also raise if a constraint is violated.

        Raises:
            ConfigError: for an unknown key, a missing active parameter, a value outside
                its domain, a value for an inactive parameter, or a violated constraint.
        """
        flat = self.flatten(values)
        known = set(self.params) | set(self.constants)
        unknown = [key for key in flat if key not in known]
        if unknown:
            raise ConfigError(
                f"unknown key(s) {unknown} in config; known keys: {', '.join(sorted(known))}"
            )
        for path, constant in self.constants.items():
            if path in flat and flat[path] != constant:
                raise ConfigError(f"invalid value {flat[path]!r} for '{path}': the space fixes it to {constant!r}")

        checked: dict[str, Any] = {}
        for path in self._order:
            param = self.params[path]
            if not self.is_active(path, checked):
                if path in flat:
                    raise ConfigError(
                        f"invalid config: '{path}' is given but inactive, because its condition "
                        f"{ {k: list(v) for k, v in param.when.items()} } does not hold"
                    )
                continue
            if path not in flat:
                raise ConfigError(f"invalid config: active parameter '{path}' is missing")
            checked[path] = param.check(flat[path], path)
        result = self._ordered(checked)

        if check_constraints:
            for constraint, amount in zip(self.constraints, self.violations(result)):
                if amount > 0:
                    raise ConfigError(
                        f"config violates constraint '{constraint.name}' by {amount:g}: {result!r}"
                    )
        return result

    def flatten(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Flatten nested config values into {dotted path: value}; flat input is returned as is.

        A dict is descended into unless its path names a parameter or constant, so
        dict-valued options of a Choice stay whole.
        """
        known = set(self.params) | set(self.constants)
        flat: dict[str, Any] = {}

        def walk(node: Mapping[str, Any], prefix: str) -> None:
            for key, value in node.items():
                path = f"{prefix}{key}"
                if isinstance(value, Mapping) and path not in known:
                    walk(value, path + ".")
                else:
                    flat[path] = value

        walk(values, "")
        return flat

    @staticmethod
    def nest(values: Mapping[str, Any]) -> dict[str, Any]:
        """Turn flat {"a.b": 1} values into nested {"a": {"b": 1}}."""
        nested: dict[str, Any] = {}
        for path, value in values.items():
            node = nested
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise ConfigError(f"cannot nest '{path}': '{part}' already has a value")
            node[leaf] = copy.deepcopy(value)
        return nested

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """Map a config to unit coordinates.

        Returns:
            float64[num_params]: each parameter's position in [0, 1] (log scale for
            log parameters, option index for Choice), NaN where inactive.
        """
        flat = self.flatten(values)
        return np.array([
            self.params[p].to_unit(flat[p]) if p in flat and self.is_active(p, flat) else np.nan
            for p in self.params
        ])


    def to_nevergrad(self, prior: Mapping[str, ParamPrior] | None = None) -> Any:
        """Build a nevergrad `ng.p.Dict` with one entry per parameter, keyed by path.

        Conditional parameters are always present in the parametrization;
        `from_nevergrad` drops the inactive ones. Constraints are not registered with
        nevergrad here: the study runner reports violations through `tell`.

        Args:
            prior: optional {path: ParamPrior} that sets the initial point and spread.
        """
        import nevergrad as ng

        prior = dict(prior or {})
        unknown = [p for p in prior if p not in self.params]
        if unknown:
            raise ConfigError(f"prior names unknown parameter(s) {unknown}; parameters: {', '.join(self.params)}")
        return ng.p.Dict(**{path: param.to_nevergrad(prior.get(path)) for path, param in self.params.items()})

    def from_nevergrad(self, candidate_value: Mapping[str, Any]) -> dict[str, Any]:
        """Convert the `.value` of a candidate from `to_nevergrad()` into a flat config."""
        missing = [p for p in self.params if p not in candidate_value]
        if missing:
            raise ConfigError(f"nevergrad value lacks parameter(s) {missing}; was it built by this space?")
        decoded: dict[str, Any] = {}
        for path in self._order:
            if self.is_active(path, decoded):
                decoded[path] = self.params[path].from_nevergrad(candidate_value[path])
        return self._ordered(decoded)

    def to_nevergrad_value(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Map a config to a value of `to_nevergrad()`, as `optimizer.suggest` expects.

        Inactive parameters take the middle of their range, since nevergrad needs a
        value for every entry.
        """
        checked = self.validate(values, check_constraints=False)
        result = {}
        for path, param in self.params.items():
            value = checked[path] if path in checked else param.from_unit(0.5)
            result[path] = param.nevergrad_value(value)
        return result


    def to_overrides(self, values: Mapping[str, Any]) -> list[str]:
        """Format a config as Hydra command-line overrides, such as "optim.learning_rate=0.001".

        A path without a dot (such as "model") becomes a config-group override. Constants
        of the space that `values` omits are appended.
        """
        flat = self.flatten(values)
        flat.update({path: value for path, value in self.constants.items() if path not in flat})
        return [format_override(path, value) for path, value in flat.items()]

    def from_overrides(self, overrides: Sequence[str]) -> dict[str, Any]:
        """Parse Hydra overrides written by `to_overrides` back into a validated config."""
        return self.validate(parse_overrides(overrides), check_constraints=False)


def _prune_conditions(definition: dict[str, Any]) -> dict[str, Any]:
    """Drop conditions on options that a narrowed or pinned Choice no longer offers.

    A parameter whose condition can never hold is removed, and so, repeatedly, is
    anything conditioned on a removed parameter.
    """
    result = dict(definition)
    changed = True
    while changed:
        changed = False
        for path, param in list(result.items()):
            if not isinstance(param, Param) or not param.when:
                continue
            when = _surviving_condition(param.when, result)
            if when is None:
                del result[path]
                changed = True
            elif when != param.when:
                clone = copy.copy(param)
                clone.when = when
                result[path] = clone
                changed = True
    return result


def _surviving_condition(when: Mapping[str, tuple], definition: Mapping[str, Any]) -> dict[str, tuple] | None:
    """Return the part of `when` that can still hold under `definition`, or None if none can."""
    kept: dict[str, tuple] = {}
    for parent, activating in when.items():
        if parent not in definition:
            return None
        node = definition[parent]
        if isinstance(node, Choice):
            values = tuple(a for a in activating if any(_same_option(a, o) for o in node.options))
            if not values:
                return None
            kept[parent] = values
        elif isinstance(node, Param):
            kept[parent] = activating  # left for _check_conditions to reject
        elif not any(_same_option(a, node) for a in activating):
            return None  # the Choice was pinned to a constant that does not activate this
    return kept


def _flatten_bounds(bounds: Mapping[str, Any], space: Space) -> dict[str, Any]:
    """Flatten nested bound overrides; a dict stops being descended once its path is known."""
    known = set(space.params) | set(space.constants)
    flat: dict[str, Any] = {}

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, Mapping) and path not in known and not set(value) <= {"low", "high", "log", "step",
                                                                                          "options", "value"}:
                walk(value, path + ".")
            else:
                flat[path] = value

    walk(bounds, "")
    return flat
