"""Dataset loaders and splits."""

import gzip
from types import SimpleNamespace

import numpy as np
import pytest

from atlas_jax.config import DataConfig
from atlas_jax.data import load_dataset, read_idx
from atlas_jax.errors import AtlasError, ConfigError


def _rows(split):
    return {tuple(row) for row in split.x.reshape(len(split), -1).round(6)}


def test_digits_split_sizes_and_shapes():
    ds = load_dataset(DataConfig(name="digits"))
    assert len(ds.train) + len(ds.val) + len(ds.test) == 1797
    assert ds.feature_shape == (8, 8, 1)
    assert ds.num_classes == 10
    assert abs(len(ds.test) - 0.2 * 1797) <= 10
    assert abs(len(ds.val) - 0.15 * 1797) <= 10


def test_split_is_deterministic_for_a_seed():
    a = load_dataset(DataConfig(name="wine", split_seed=3))
    b = load_dataset(DataConfig(name="wine", split_seed=3))
    c = load_dataset(DataConfig(name="wine", split_seed=4))
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_array_equal(a.test.y, b.test.y)
    assert not np.array_equal(a.test.y, c.test.y) or not np.array_equal(a.test.x, c.test.x)


def test_splits_are_disjoint():
    ds = load_dataset(DataConfig(name="breast_cancer", standardize=False))
    train, val, test = _rows(ds.train), _rows(ds.val), _rows(ds.test)
    assert not train & val
    assert not train & test
    assert not val & test


def test_split_is_stratified():
    ds = load_dataset(DataConfig(name="digits"))
    overall = np.bincount(np.concatenate([ds.train.y, ds.val.y, ds.test.y]), minlength=10) / 1797
    for split in (ds.train, ds.val, ds.test):
        share = np.bincount(split.y, minlength=10) / len(split)
        np.testing.assert_allclose(share, overall, atol=0.02)


def test_standardize_uses_train_statistics():
    ds = load_dataset(DataConfig(name="wine"))
    np.testing.assert_allclose(ds.train.x.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.train.x.std(0), 1, atol=1e-4)


def test_max_examples_subsamples_per_class():
    ds = load_dataset(DataConfig(name="digits", max_examples=500))
    total = len(ds.train) + len(ds.val) + len(ds.test)
    assert abs(total - 500) <= 10
    assert set(np.unique(ds.train.y)) == set(range(10))


def test_unknown_dataset_names_the_valid_ones():
    with pytest.raises(ConfigError, match="valid datasets: .*digits"):
        load_dataset(DataConfig(name="imagenet"))


def test_bad_fractions_rejected():
    with pytest.raises(ConfigError, match="val_fraction"):
        load_dataset(DataConfig(name="wine", val_fraction=0.6, test_fraction=0.5))


def _write_idx(path, array, gz=False):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    payload = header + array.tobytes()
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def test_read_idx_round_trip(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    _write_idx(tmp_path / "a-idx3-ubyte", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a-idx3-ubyte"), array)


def test_read_idx_truncated_file(tmp_path):
    array = np.zeros((5, 4, 3), np.uint8)
    _write_idx(tmp_path / "t", array)
    data = (tmp_path / "t").read_bytes()
    (tmp_path / "t").write_bytes(data[:-7])
    with pytest.raises(AtlasError, match="truncated or corrupt"):
        read_idx(tmp_path / "t")


def test_read_idx_rejects_other_files(tmp_path):
    (tmp_path / "x").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(AtlasError, match="not an IDX file"):
        read_idx(tmp_path / "x")


def test_idx_folder_loader(tmp_path):
    rng = np.random.default_rng(1)
    for split, n in (("train", 60), ("t10k", 20)):
        _write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gz=True)
        _write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 3, gz=True)
    ds = load_dataset(DataConfig(name="idx", path=str(tmp_path), val_fraction=0.1, test_fraction=0.15))
    assert len(ds.test) == 20  # the official test split is kept whole
    assert len(ds.train) + len(ds.val) == 60
    assert ds.feature_shape == (28, 28, 1)
    assert ds.num_classes == 3


def test_csv_loader_maps_string_labels(tmp_path):
    lines = ["a,b,label"] + [f"{i},{i * 2},{'yes' if i % 2 else 'no'}" for i in range(40)]
    (tmp_path / "t.csv").write_text("\n".join(lines))
    ds = load_dataset(DataConfig(name="csv", path=str(tmp_path / "t.csv"), standardize=False))
    assert ds.class_names == ("no", "yes")
    assert ds.feature_names == ("a", "b")
    for split in (ds.train, ds.val, ds.test):
        np.testing.assert_array_equal(split.y, (split.x[:, 0].astype(int) % 2))


def test_csv_loader_reports_bad_cell(tmp_path):
    (tmp_path / "t.csv").write_text("a,label\n1,0\nseven,1\n")
    with pytest.raises(AtlasError, match=r"t.csv:3: column 'a' contains 'seven'"):
        load_dataset(DataConfig(name="csv", path=str(tmp_path / "t.csv")))


def test_csv_loader_reports_ragged_row(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,label\n1,2,0\n3,1\n")
    with pytest.raises(AtlasError, match="expected 3 fields, found 2"):
        load_dataset(SimpleNamespace(**{**DataConfig().__dict__, "name": "csv", "path": str(tmp_path / "t.csv")}))


def _table(rows: int, label=lambda i: i % 2, value=lambda i: i) -> str:
    return "a,b,label\n" + "".join(f"{value(i)},{i},{label(i)}\n" for i in range(rows))


@pytest.mark.parametrize(
    "content, message",
    [
        (_table(40, label=lambda i: 7), "single class"),
        (_table(40, label=lambda i: "" if i == 3 else i % 2), r":5: the target column 'label' is empty"),
        (_table(40, value=lambda i: "nan" if i == 3 else i), "1 feature cells are empty, NaN, infinite"),
        (_table(40, value=lambda i: "inf" if i == 3 else i), "1 feature cells are empty, NaN, infinite"),
        (_table(40, value=lambda i: "1e39" if i == 3 else i), "beyond the float32 range"),
        ("label\n" + "0\n1\n" * 20, "needs comma-separated feature columns"),
        ("a;b;label\n" + "1;2;0\n3;4;1\n" * 20, "needs comma-separated feature columns"),
        (b"a,b,lab\xe9l\n1,2,0\n", "is not UTF-8 text"),
    ],
    ids=["one_class", "empty_label", "nan", "inf", "overflow", "target_only", "semicolons", "latin1"],
)
def test_csv_bad_table_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "t.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(AtlasError, match=message):
        load_dataset(DataConfig(name="csv", path=str(path)))


def test_csv_accepts_byte_order_mark_and_blank_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("\ufefflabel,a\n" + "".join(f"{i % 2},{i}\n\n" for i in range(40)), encoding="utf-8")
    ds = load_dataset(DataConfig(name="csv", path=str(path), target_column="label"))
    assert len(ds.train) + len(ds.val) + len(ds.test) == 40
    assert ds.feature_names == ("a",)


def test_csv_error_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,label\n\n1,2,0\n1,x,1\n")
    with pytest.raises(AtlasError, match=r"t.csv:4: column 'b' contains 'x'"):
        load_dataset(DataConfig(name="csv", path=str(path)))


def test_no_training_examples_names_class_count():
    with pytest.raises(ConfigError, match=r"10 examples in 10 classes"):
        load_dataset(DataConfig(name="digits", max_examples=5))


def test_missing_idx_folder_says_how_to_get_it(tmp_path):
    with pytest.raises(AtlasError, match=r"IDX folder not found: .*none; for Fashion-MNIST install .*dataset-fashion-mnist"):
        load_dataset(DataConfig(name="idx", path=str(tmp_path / "none")))
