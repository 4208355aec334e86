"""Parameter types: domains, sampling distributions, unit coordinates and nevergrad round trips."""

import math

import nevergrad as ng
import numpy as np
import pytest
from scipy import stats

from atlas_jax.errors import ConfigError
from atlas_jax.search import Choice, Float, Int, ParamPrior
from tests.helpers import approx_values


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: Float(1.0, 1.0), "low=1.0 >= high=1.0"),
        (lambda: Float(2.0, 1.0), "low must be below high"),
        (lambda: Float(0.0, 1.0, log=True), "must be > 0"),
        (lambda: Float(-1.0, 1.0, log=True), "must be > 0"),
        (lambda: Float(0.0, float("inf")), "finite"),
        (lambda: Float("a", 1.0), "expected a number"),
        (lambda: Int(3, 3), "low must be below high"),
        (lambda: Int(0, 10, log=True), "must be > 0"),
        (lambda: Int(0, 10, step=0), "step 0"),
        (lambda: Int(0, 10, step=3), "multiple of step"),
        (lambda: Int(0.5, 10), "expected an integer"),
        (lambda: Choice([]), "empty"),
        (lambda: Choice("abc"), "expected a list"),
        (lambda: Choice([1, 2, 1]), "more than once"),
        (lambda: Float(0.0, 1.0, when={}), "non-empty dict"),
        (lambda: Float(0.0, 1.0, when={"a": []}), "empty"),
    ],
)
def test_param_invalid_definition_raises(make, fragment):
    with pytest.raises(ConfigError, match=fragment):
        make()


def test_float_log_sampling_is_log_uniform():
    param = Float(1e-4, 1e-1, log=True)
    rng = np.random.default_rng(0)
    draws = np.array([param.sample(rng) for _ in range(4000)])
    assert draws.min() >= 1e-4
    assert draws.max() <= 1e-1
    # log10 of a log-uniform draw is uniform on [-4, -1]; KS test at the 0.1% level.
    result = stats.kstest(np.log10(draws), stats.uniform(loc=-4, scale=3).cdf)
    assert result.pvalue > 1e-3


def test_int_linear_sampling_covers_grid_evenly():
    param = Int(2, 20, step=3)
    rng = np.random.default_rng(1)
    draws = [param.sample(rng) for _ in range(7000)]
    values, counts = np.unique(draws, return_counts=True)
    assert values.tolist() == [2, 5, 8, 11, 14, 17, 20]
    # Chi-square test of uniformity over the 7 grid points at the 0.1% level.
    assert stats.chisquare(counts).pvalue > 1e-3


def test_int_log_sampling_stays_on_grid():
    param = Int(1, 1024, log=True)
    rng = np.random.default_rng(2)
    draws = np.array([param.sample(rng) for _ in range(3000)])
    assert draws.dtype.kind == "i"
    assert draws.min() >= 1
    assert draws.max() <= 1024
    # Log-uniform: about half of the draws fall below sqrt(1 * 1024) = 32.
    assert 0.45 < np.mean(draws < 32) < 0.55


@pytest.mark.parametrize(
    "param, good, bad",
    [
        (Float(0.0, 1.0), [0.0, 0.5, 1, 1.0], [1.5, -0.1, "0.5", True, None]),
        (Int(0, 10, step=2), [0, 4, 10, 6.0], [3, 12, 4.5, True, "4"]),
        (Choice(["a", [1, 2], {"k": 1}, 1]), ["a", [1, 2], {"k": 1}, 1, 1.0], ["b", [2, 1], True]),
    ],
)
def test_param_check_accepts_domain_only(param, good, bad):
    for value in good:
        param.check(value, "x")
    for value in bad:
        with pytest.raises(ConfigError, match="invalid value"):
            param.check(value, "x")


@pytest.mark.parametrize(
    "param, value",
    [
        (Float(-2.0, 6.0), 3.5),
        (Float(1e-5, 1.0, log=True), 3e-3),
        (Int(4, 64, step=4), 36),
        (Int(1, 4096, log=True), 100),
        (Choice(["relu", "gelu", "tanh"]), "gelu"),
        (Choice([16, 32, 64, 128], ordered=True), 64),
    ],
)
def test_param_nevergrad_round_trip(param, value):
    ng_param = param.to_nevergrad()
    ng_param.value = param.nevergrad_value(value)
    assert param.from_nevergrad(ng_param.value) == value
    assert param.from_unit(param.to_unit(value)) == approx_values(value, rel=1e-9)


@pytest.mark.parametrize(
    "param",
    [Float(-1.0, 1.0), Float(1e-3, 10.0, log=True), Int(0, 9), Int(2, 200, log=True),
     Choice(["a", "b", "c"]), Choice([1, 2, 4, 8], ordered=True)],
)
def test_param_nevergrad_mutations_stay_in_domain(param):
    ng_param = param.to_nevergrad()
    ng_param.random_state.seed(0)
    for _ in range(300):
        child = ng_param.spawn_child()
        child.mutate()
        param.check(param.from_nevergrad(child.value), "x")
        sampled = ng_param.sample()
        param.check(param.from_nevergrad(sampled.value), "x")


def test_float_prior_sets_center_and_spread():
    param = Float(1e-5, 1e-1, log=True)
    ng_param = param.to_nevergrad(ParamPrior(center=1e-3, spread=0.1))
    assert ng_param.value == pytest.approx(1e-3, rel=1e-9)
    ng_param.random_state.seed(0)
    units = []
    for _ in range(2000):
        child = ng_param.spawn_child()
        child.mutate()
        units.append(param.to_unit(child.value))
    # One mutation step moves a standard deviation of `spread` in unit coordinates; the
    # bounds are 0.5 units away on each side so clipping is negligible. Tolerance 10%.
    assert np.std(units) == pytest.approx(0.1, rel=0.1)
    assert np.median(units) == pytest.approx(param.to_unit(1e-3), abs=0.01)


def test_linear_float_prior_spread_matches_sigma():
    param = Float(0.0, 10.0)
    ng_param = param.to_nevergrad(ParamPrior(center=5.0, spread=0.05))
    assert ng_param.value == 5.0
    assert ng_param.sigma.value == pytest.approx(0.5)


def test_prior_spread_has_floor():
    param = Float(0.0, 1.0)
    ng_param = param.to_nevergrad(ParamPrior(center=0.5, spread=0.0))
    assert ng_param.sigma.value > 0.0


@pytest.mark.parametrize("spread", [float("nan"), float("inf")])
def test_prior_rejects_nonfinite_spread(spread):
    with pytest.raises(ConfigError, match="invalid prior spread"):
        ParamPrior(center=0.5, spread=spread)


def test_int_prior_sets_center():
    param = Int(8, 128, step=8)
    ng_param = param.to_nevergrad(ParamPrior(center=64, spread=0.1))
    assert param.from_nevergrad(ng_param.value) == 64


def test_choice_prior_weights_shift_mutations():
    param = Choice(["a", "b", "c", "d"])
    ng_param = param.to_nevergrad(ParamPrior(center=None, weights=[0.0, 0.0, 1.0, 0.0]))
    ng_param.random_state.seed(0)
    draws = []
    for _ in range(1000):
        child = ng_param.spawn_child()
        child.mutate()
        draws.append(param.from_nevergrad(child.value))
    share = draws.count("c") / len(draws)
    # The prior favours "c" but keeps every option reachable.
    assert share > 0.4
    assert set(draws) == {"a", "b", "c", "d"}


def test_choice_prior_rejects_bad_weights():
    param = Choice(["a", "b"])
    with pytest.raises(ConfigError, match="non-negative"):
        param.to_nevergrad(ParamPrior(center="a", weights=[1.0, -1.0]))
    with pytest.raises(ConfigError, match="expected 2"):
        param.to_nevergrad(ParamPrior(center="a", weights=[1.0]))


def test_prior_center_outside_domain_raises():
    with pytest.raises(ConfigError, match="prior center"):
        Float(0.0, 1.0).to_nevergrad(ParamPrior(center=2.0))


def test_choice_bool_and_int_are_distinct():
    param = Choice([True, 1])
    assert param.index(True) == 0
    assert param.index(1) == 1
    assert math.isclose(param.to_unit(1), 1.0)


def test_with_bounds_replaces_range_and_keeps_condition():
    param = Float(1e-4, 1e-1, log=True, when={"optim.name": "sgd"})
    narrowed = param.with_bounds([1e-3, 1e-2], "optim.learning_rate")
    assert (narrowed.low, narrowed.high, narrowed.log) == (1e-3, 1e-2, True)
    assert narrowed.when == {"optim.name": ("sgd",)}
    assert Int(1, 8).with_bounds({"high": 16, "step": 3}, "n").high == 16
    assert Choice(["a", "b"]).with_bounds(["c"], "x").options == ["c"]
    with pytest.raises(ConfigError, match="unknown keys"):
        param.with_bounds({"lo": 1}, "optim.learning_rate")
    with pytest.raises(ConfigError, match="must be > 0"):
        param.with_bounds([0.0, 1.0], "optim.learning_rate")


def test_nevergrad_value_types():
    assert isinstance(Int(0, 5).to_nevergrad().value, int)
    assert isinstance(Choice(["x", "y"]).to_nevergrad(), ng.p.Choice)
