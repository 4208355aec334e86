"""Space: nesting, conditions, constraints, validation and conversions."""

import nevergrad as ng
import numpy as np
import pytest

from atlas_jax.errors import ConfigError
from atlas_jax.search import Choice, Constraint, Float, Int, ParamPrior, Space
from tests.helpers import approx_values


def make_space(constraints=()):
    return Space(
        {
            "model": {
                "kind": Choice(["mlp", "cnn"]),
                "hidden": Choice([[64], [128, 64]], when={"model.kind": "mlp"}),
                "channels": Int(8, 64, log=True, when={"model.kind": "cnn"}),
                "kernel": Choice([3, 5], ordered=True, when={"model.kind": "cnn"}),
            },
            "optim": {
                "name": Choice(["adamw", "sgd", "lamb"]),
                "learning_rate": Float(1e-4, 1e-1, log=True),
                "momentum": Float(0.5, 0.99, when={"optim.name": ["sgd", "lamb"]}),
                "nesterov": Choice([True, False], when={"optim.name": "sgd"}),
            },
            "train.steps": 300,
        },
        constraints=constraints,
    )


def test_space_flattens_nested_and_dotted_keys():
    space = make_space()
    assert space.paths == [
        "model.kind", "model.hidden", "model.channels", "model.kernel",
        "optim.name", "optim.learning_rate", "optim.momentum", "optim.nesterov",
    ]
    assert space.constants == {"train.steps": 300}


def test_sample_is_deterministic_per_seed():
    space = make_space()
    assert space.sample(7) == space.sample(7)
    assert space.sample(7) != space.sample(8)
    rng = np.random.default_rng(3)
    first, second = space.sample(rng), space.sample(rng)
    assert first != second


def test_sample_respects_conditions():
    space = make_space()
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(400):
        values = space.sample(rng)
        kind, name = values["model.kind"], values["optim.name"]
        seen.add((kind, name))
        assert ("model.hidden" in values) == (kind == "mlp")
        assert ("model.channels" in values) == (kind == "cnn")
        assert ("model.kernel" in values) == (kind == "cnn")
        assert ("optim.momentum" in values) == (name in ("sgd", "lamb"))
        assert ("optim.nesterov" in values) == (name == "sgd")
        assert values["train.steps"] == 300
        assert space.validate(values) == values
    assert len(seen) == 6


def test_nested_condition_inactive_with_parent():
    space = Space({
        "a": Choice(["x", "y"]),
        "b": Choice(["p", "q"], when={"a": "x"}),
        "c": Float(0.0, 1.0, when={"b": "q"}),
    })
    assert space.is_active("c", {"a": "x", "b": "q"})
    assert not space.is_active("c", {"a": "y", "b": "q"})
    for seed in range(50):
        values = space.sample(seed)
        assert ("c" in values) == (values["a"] == "x" and values.get("b") == "q")


def test_sample_satisfies_constraints():
    # Bool and amount forms: lr * momentum small, and sgd only with lr below 0.01.
    def lr_momentum(values):
        return values["optim.learning_rate"] * values.get("optim.momentum", 0.0) - 0.005

    space = make_space([lr_momentum, lambda v: v["optim.name"] != "sgd" or v["optim.learning_rate"] < 0.01])
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = space.sample(rng)
        assert space.violations(values) == [0.0, 0.0]
        if values["optim.name"] == "sgd":
            assert values["optim.learning_rate"] < 0.01


def test_violations_report_amounts():
    space = Space({"a": Float(0.0, 10.0), "b": Float(0.0, 10.0)},
                  constraints=[Constraint(lambda v: v["a"] + v["b"] - 10.0, name="sum_at_most_10"),
                               lambda v: v["a"] <= v["b"]])
    assert space.violations({"a": 8.0, "b": 5.0}) == [pytest.approx(3.0), 1.0]
    assert space.violations({"a": 1.0, "b": 5.0}) == [0.0, 0.0]
    with pytest.raises(ConfigError, match="sum_at_most_10.*by 3"):
        space.validate({"a": 8.0, "b": 5.0})
    assert space.validate({"a": 8.0, "b": 5.0}, check_constraints=False)["a"] == 8.0


def test_unsatisfiable_constraint_raises():
    space = Space({"a": Float(0.0, 1.0)}, constraints=[lambda v: v["a"] > 2.0])
    with pytest.raises(ConfigError, match="no config out of 50"):
        space.sample(0, max_tries=50)


def test_constraint_bad_return_raises():
    space = Space({"a": Float(0.0, 1.0)}, constraints=[lambda v: "yes"])
    with pytest.raises(ConfigError, match="must return a bool"):
        space.violations({"a": 0.5})
    with pytest.raises(ConfigError, match="expected a callable"):
        Constraint(3)


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"model.kind": "mlp", "model.hidden": [64], "optim.name": "adamw",
          "optim.learning_rate": 0.01, "optim.beta": 0.9}, r"unknown key\(s\) \['optim.beta'\]"),
        ({"model.kind": "mlp", "optim.name": "adamw", "optim.learning_rate": 0.01},
         "active parameter 'model.hidden' is missing"),
        ({"model.kind": "mlp", "model.hidden": [64], "optim.name": "adamw",
          "optim.learning_rate": 0.01, "optim.momentum": 0.9}, "'optim.momentum' is given but inactive"),
        ({"model.kind": "mlp", "model.hidden": [32], "optim.name": "adamw",
          "optim.learning_rate": 0.01}, "invalid value \\[32\\] for 'model.hidden'"),
        ({"model.kind": "mlp", "model.hidden": [64], "optim.name": "adamw",
          "optim.learning_rate": 2.0}, "outside"),
        ({"model.kind": "mlp", "model.hidden": [64], "optim.name": "adamw",
          "optim.learning_rate": 0.01, "train.steps": 10}, "fixes it to 300"),
    ],
)
def test_validate_rejects(values, fragment):
    with pytest.raises(ConfigError, match=fragment):
        make_space().validate(values)


def test_validate_accepts_nested_values():
    space = make_space()
    nested = {"model": {"kind": "cnn", "channels": 16, "kernel": 5},
              "optim": {"name": "adamw", "learning_rate": 0.003}}
    values = space.validate(nested)
    assert values == {"model.kind": "cnn", "model.channels": 16, "model.kernel": 5,
                      "optim.name": "adamw", "optim.learning_rate": 0.003, "train.steps": 300}
    assert Space.nest(values) == {**nested, "train": {"steps": 300}}


def test_dict_valued_choice_stays_whole():
    space = Space({"model.block": Choice([{"depth": 2, "width": 64}, {"depth": 4, "width": 32}])})
    values = space.validate({"model": {"block": {"depth": 4, "width": 32}}})
    assert values == {"model.block": {"depth": 4, "width": 32}}
    assert space.to_overrides(values) == ["model.block={depth:4,width:32}"]
    assert space.from_overrides(space.to_overrides(values)) == values


@pytest.mark.parametrize(
    "definition, fragment",
    [
        ({}, "no searchable parameter"),
        ({"a": 1}, "no searchable parameter"),
        ({"a": Float(0, 1, when={"b": "x"})}, "'b' is not a parameter"),
        ({"a": Float(0, 1, when={"b": 0.5}), "b": Float(0, 1)}, "conditions must name a Choice"),
        ({"a": Float(0, 1, when={"b": "z"}), "b": Choice(["x", "y"])}, "invalid value 'z' for 'b'"),
        ({"a": Choice(["x"], when={"b": "x"}), "b": Choice(["x"], when={"a": "x"})}, "cycle"),
        ({"a": {}}, "empty dict"),
        ({"a": {"b": Float(0, 1)}, "a.b": Float(0, 1)}, "defined twice"),
    ],
)
def test_space_invalid_definition_raises(definition, fragment):
    with pytest.raises(ConfigError, match=fragment):
        Space(definition)


def test_nevergrad_round_trip_and_suggest():
    space = make_space()
    parametrization = space.to_nevergrad()
    assert isinstance(parametrization, ng.p.Dict)
    rng = np.random.default_rng(5)
    for _ in range(30):
        values = space.sample(rng)
        parametrization.value = space.to_nevergrad_value(values)
        # Log parameters pass through exp(log(x)), so floats match to 1e-12 relative.
        assert space.from_nevergrad(parametrization.value) == approx_values(values, rel=1e-12)

    optimizer = ng.optimizers.NGOpt(parametrization=space.to_nevergrad(), budget=20)
    wanted = {"model.kind": "cnn", "model.channels": 32, "model.kernel": 5,
              "optim.name": "sgd", "optim.learning_rate": 0.002, "optim.momentum": 0.8,
              "optim.nesterov": False}
    optimizer.suggest(space.to_nevergrad_value(wanted))
    got = space.from_nevergrad(optimizer.ask().value)
    assert got == approx_values({**wanted, "train.steps": 300}, rel=1e-6)


def test_nevergrad_candidates_validate():
    space = make_space()
    optimizer = ng.optimizers.TwoPointsDE(parametrization=space.to_nevergrad(), budget=60)
    for i in range(60):
        candidate = optimizer.ask()
        values = space.from_nevergrad(candidate.value)
        assert space.validate(values) == values
        optimizer.tell(candidate, float(i % 7))


def test_to_nevergrad_prior_sets_initial_point():
    space = make_space()
    prior = {"optim.learning_rate": ParamPrior(center=0.02, spread=0.05),
             "optim.name": ParamPrior(center="sgd"),
             "model.channels": ParamPrior(center=32)}
    parametrization = space.to_nevergrad(prior)
    value = parametrization.value
    assert value["optim.learning_rate"] == pytest.approx(0.02)
    assert space["model.channels"].from_nevergrad(value["model.channels"]) == 32
    with pytest.raises(ConfigError, match="unknown parameter"):
        space.to_nevergrad({"optim.beta": ParamPrior(center=1)})


def test_from_nevergrad_missing_key_raises():
    with pytest.raises(ConfigError, match="lacks parameter"):
        make_space().from_nevergrad({"model.kind": 0})


def test_overrides_round_trip():
    space = make_space()
    rng = np.random.default_rng(11)
    for _ in range(50):
        values = space.sample(rng)
        overrides = space.to_overrides(values)
        assert all("=" in line for line in overrides)
        assert space.from_overrides(overrides) == values


def test_overrides_format_examples():
    space = Space({"optim.learning_rate": Float(1e-5, 1.0, log=True), "model.hidden": Choice([[64, 32]]),
                   "model.activation": Choice(["relu", "true", "a b"]), "train.progress": False})
    values = {"optim.learning_rate": 1e-05, "model.hidden": [64, 32], "model.activation": "a b"}
    assert space.to_overrides(values) == [
        "optim.learning_rate=1e-05", "model.hidden=[64,32]", "model.activation='a b'", "train.progress=false"]
    assert space.to_overrides({"optim.learning_rate": 0.001, "model.hidden": [64, 32],
                               "model.activation": "true"})[:3] == [
        "optim.learning_rate=0.001", "model.hidden=[64,32]", "model.activation='true'"]


def test_encode_unit_coordinates():
    space = make_space()
    values = {"model.kind": "cnn", "model.channels": 8, "model.kernel": 5, "optim.name": "adamw",
              "optim.learning_rate": 10 ** -2.5}
    encoded = space.encode(values)
    assert encoded.shape == (8,)
    np.testing.assert_allclose(encoded[[0, 2, 3, 4, 5]], [1.0, 0.0, 1.0, 0.0, 0.5], atol=1e-12)
    assert np.isnan(encoded[[1, 6, 7]]).all()


def test_with_bounds_nested_and_value():
    space = make_space()
    narrowed = space.with_bounds({"optim": {"learning_rate": [1e-3, 1e-2]}, "model.kind": ["mlp"],
                                  "train.steps": {"value": 50}})
    assert narrowed["optim.learning_rate"].low == 1e-3
    assert narrowed["model.kind"].options == ["mlp"]
    assert narrowed.constants["train.steps"] == 50
    with pytest.raises(ConfigError, match="not a parameter"):
        space.with_bounds({"optim.beta": [0, 1]})


def test_with_bounds_narrowing_prunes_conditions():
    space = make_space()
    narrowed = space.with_bounds({"model.kind": ["mlp"], "optim.name": ["adamw", "lamb"]})
    assert "model.channels" not in narrowed
    assert "model.kernel" not in narrowed
    assert "optim.nesterov" not in narrowed
    assert narrowed["optim.momentum"].when == {"optim.name": ("lamb",)}
    pinned = space.with_bounds({"model.kind": {"value": "cnn"}})
    assert pinned.constants["model.kind"] == "cnn"
    assert "model.hidden" not in pinned
    assert pinned["model.channels"].when == {}
    assert "model.channels" in pinned.sample(0)
