from atlas_jax.boosting.config import GBDTConfig
from atlas_jax.boosting.space import gbdt_space
from atlas_jax.boosting.train import check_config
from atlas_jax.search import get_space


def test_gbdt_space_samples_valid_configs():
    space = get_space("gbdt")  # a built-in name, no module path needed
    assert get_space("atlas_jax.boosting.space:gbdt").sample(3) == space.sample(3)
    policies = set()
    for seed in range(40):
        values = space.sample(seed)
        fields = {key.split(".", 1)[1]: value for key, value in space.flatten(values).items()}
        policies.add(fields["grow_policy"])
        check_config(GBDTConfig(**fields))
        assert ("max_depth" in fields) == (fields["grow_policy"] == "depthwise")
    assert policies == {"depthwise", "lossguide"}


def test_gbdt_space_overrides_name_gbdt_group():
    overrides = gbdt_space().to_overrides(gbdt_space().sample(0))
    assert overrides
    assert all(o.startswith("gbdt.") for o in overrides)
