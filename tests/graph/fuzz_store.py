"""Fuzz the store reader and the text edge parser; run as a script in a child process.

``python fuzz_store.py WORKDIR NUM_CASES SEED`` prints one JSON line of counts
and exits 0 when every case ended as expected. A damaged store must raise
GraphFormatError from open, or at the latest from verify, and never crash. The
text parser must raise GraphInputError on every malformed line and agree with
a Python model of its grammar on random lines. A crash kills this process, which the
calling test sees as a nonzero exit status.
"""

import json
import re
import struct
import sys
from pathlib import Path

import numpy as np

from atlas_jax import _core
from atlas_jax.graph import GraphFormatError, GraphInputError, GraphStore, build_graph, random_walk, sample

HEADER_BYTES = 248
# Byte ranges of numeric header fields (see csrc/graph_format.h), each checked by open or verify.
# The flags word (offset 24) is left out: clearing a property flag such as "sorted" leaves a valid file.
HEADER_FIELDS = [(8, 4), (12, 4), (16, 4), (20, 4), (32, 8), (40, 8), (48, 8)] + [
    (56 + 24 * s + off, size) for s in range(5) for off, size in ((0, 8), (8, 8), (16, 4), (20, 4))
] + [(176 + 8 * i, 8) for i in range(8)] + [(240, 4)]


def make_stores(workdir: Path, rng: np.random.Generator) -> list[bytes]:
    """Valid stores covering every section: plain, weighted with types and an id map, and empty."""
    src = rng.integers(0, 200, size=1500)
    dst = rng.integers(0, 300, size=1500)
    plain = build_graph(workdir / "plain.csr", src=src, dst=dst, dedup=True, drop_self_loops=True, progress=False)
    sparse_ids = rng.integers(0, 10**12, size=300)
    full = build_graph(workdir / "full.csr", src=sparse_ids[src], dst=sparse_ids[dst % 200],
                       weights=rng.random(1500), edge_types=rng.integers(0, 5, size=1500), symmetrize=True,
                       progress=False)
    assert full.has_id_map
    assert full.has_weights
    assert full.has_edge_types
    empty = build_graph(workdir / "empty.csr", src=np.zeros(0, np.int64), dst=np.zeros(0, np.int64), progress=False)
    del plain, full, empty
    return [(workdir / name).read_bytes() for name in ("plain.csr", "full.csr", "empty.csr")]


def exercise(path: Path) -> None:
    """Open without verification and use every accessor; then verification must reject the file."""
    store = GraphStore.open(path)
    n = store.num_nodes
    ids = np.arange(min(n, 400), dtype=np.int64)
    for v in ids:
        try:
            store.neighbors(int(v)).sum()
            store.degree(int(v))
            store.edge_weights(int(v))
        except GraphFormatError:
            pass
    for call in (
        lambda: store.degrees(ids),
        lambda: store.neighbors_batch(ids),
        lambda: sample(store, ids[:50], [5, 5], seed=0, num_threads=2),
        lambda: random_walk(store, ids[:50], 5, seed=0),
        lambda: store.info(),
        lambda: store.store_ids(np.array([0, 5, 2**40])),
    ):
        try:
            call()
        except GraphFormatError:
            pass
    GraphStore.open(path, verify=True)


def same_graph(a: GraphStore, b: GraphStore) -> bool:
    arrays = ("indptr", "indices", "weights", "edge_types", "id_map")
    return a.num_nodes == b.num_nodes and all(
        (getattr(a, name) is None) == (getattr(b, name) is None)
        and (getattr(a, name) is None or np.array_equal(getattr(a, name), getattr(b, name)))
        for name in arrays
    )


def check_file(path: Path, data: bytes, original: GraphStore, counts: dict) -> None:
    path.write_bytes(data)
    try:
        exercise(path)
    except GraphFormatError as err:
        message = str(err)
        assert str(path) in message, message
        assert len(message) > len(str(path)) + 10, message
        counts["rejected"] += 1
        return
    # Accepted only if the change is meaningless, such as the dtype code of a zero-length section.
    if not same_graph(GraphStore.open(path), original):
        raise AssertionError(f"damaged store was accepted: {len(data)} bytes")
    counts["equivalent"] += 1


def mutate(rng: np.random.Generator, original: bytes) -> bytes:
    kind = rng.integers(0, 5)
    data = bytearray(original)
    if kind == 0:  # truncate
        return bytes(data[: rng.integers(0, len(data))])
    if kind == 1:  # flip 1-4 bits anywhere
        for _ in range(rng.integers(1, 5)):
            data[rng.integers(0, len(data))] ^= 1 << rng.integers(0, 8)
    elif kind == 2:  # flip bits in the header page
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(0, 4096)] ^= 1 << rng.integers(0, 8)
    elif kind == 3 and rng.random() < 0.1:  # toggle a section-presence flag or set an unknown flag bit
        bit = int(rng.choice([0, 1, 2, *range(7, 64)]))
        flags = int.from_bytes(data[24:32], "little") ^ (1 << bit)
        data[24:32] = flags.to_bytes(8, "little")
        data[244:248] = struct.pack("<I", _core.crc32(bytes(data[:244]) + b"\0\0\0\0"))
    elif kind == 3:  # set a header field to a random or boundary value and fix the header CRC
        offset, size = HEADER_FIELDS[rng.integers(0, len(HEADER_FIELDS))]
        old = bytes(data[offset:offset + size])
        choices = [0, 1, 2**(8 * size) - 1, 2**(8 * size - 1), int.from_bytes(old, "little") + 1,
                   int.from_bytes(old, "little") - 1, int(rng.integers(0, 2**31)) * 4096]
        new = choices[rng.integers(0, len(choices))] % 2**(8 * size)
        data[offset:offset + size] = new.to_bytes(size, "little")
        if bytes(data[offset:offset + size]) == old:
            data[offset] ^= 0x80
        data[244:248] = b"\0\0\0\0"
        data[244:248] = struct.pack("<I", _core.crc32(bytes(data[:HEADER_BYTES])))
    else:  # append or insert bytes
        extra = rng.integers(0, 256, size=rng.integers(1, 5000), dtype=np.uint8).tobytes()
        position = rng.integers(0, len(data) + 1) if rng.random() < 0.5 else len(data)
        data[position:position] = extra
    if bytes(data) == original:
        data[-1] ^= 1
    return bytes(data)


def random_file(rng: np.random.Generator, valid: bytes) -> bytes:
    body = rng.integers(0, 256, size=rng.integers(0, 20000), dtype=np.uint8).tobytes()
    style = rng.integers(0, 3)
    if style == 0:
        return body
    if style == 1:
        return b"ATLASCSR" + body
    return valid[:4096] + body


# ---------------------------------------------------------------- text lines

_SEPARATOR = re.compile(r"[ \t\r]*,[ \t\r]*|[ \t\r]+")
_INTEGER = re.compile(r"-?[0-9]+")


def reference_parse(line: str):
    """Python model of the C++ parser for 'src dst' lines: a tuple, None (skip) or 'error'."""
    stripped = line.strip(" \t\r")
    if not stripped or stripped[0] in "#%":
        return None
    fields = _SEPARATOR.split(stripped)
    if len(fields) != 2 or any(not _INTEGER.fullmatch(f) for f in fields):
        return "error"
    values = [int(f) for f in fields]
    if any(v < 0 or v >= 2**63 for v in values):
        return "error"
    return tuple(values)


MALFORMED = [
    "1", "1 2 3", "a b", "1 b", "1,,2", "1,2,", ",1 2", "-1 2", "1 -2", "1.5 2", "1 2e3", "9223372036854775808 1",
    "1 99999999999999999999999", "0x10 2", "+1 2", "1\x002", "1 2 #", "1;2", "１ 2", "1 2\x0b",
]
MALFORMED_WEIGHTED = ["1 2", "1 2 x", "1 2 nan", "1 2 inf", "1 2 1e400", "1 2 3 4", "1 2 -inf", "1 2 1,"]
MALFORMED_TYPED = ["1 2", "1 2 -1", "1 2 65536", "1 2 1.5", "1 2 3 4"]


def fuzz_lines(rng: np.random.Generator, num_cases: int, counts: dict) -> None:
    def expect_error(line: str, weights: bool, types: bool) -> None:
        try:
            result = _core.parse_edge_line(line, weights, types)
        except GraphInputError as err:
            assert "<line>:" in str(err), str(err)
            assert "expected" in str(err), str(err)
            counts["lines_rejected"] += 1
            return
        raise AssertionError(f"malformed line {line!r} parsed as {result}")

    for line in MALFORMED:
        expect_error(line, False, False)
    for line in MALFORMED_WEIGHTED:
        expect_error(line, True, False)
    for line in MALFORMED_TYPED:
        expect_error(line, False, True)

    alphabet = list("0123456789 \t,-#%.e\r") + ["9223372036854775807", "x", "\x00", "é"]
    for _ in range(num_cases):
        parts = rng.choice(alphabet, size=rng.integers(0, 12))
        line = "".join(parts)
        expected = reference_parse(line)
        try:
            got = _core.parse_edge_line(line, False, False)
        except GraphInputError:
            got = "error"
        if got is not None and got != "error":
            got = got[:2]
        assert got == expected, f"{line!r}: C++ {got!r}, reference {expected!r}"
        counts["random_lines"] += 1


def main() -> int:
    workdir = Path(sys.argv[1])
    num_cases = int(sys.argv[2])
    seed = int(sys.argv[3])
    rng = np.random.default_rng(seed)
    counts = {"mutated": 0, "random": 0, "rejected": 0, "equivalent": 0, "lines_rejected": 0, "random_lines": 0}
    originals = make_stores(workdir, rng)
    stores = []
    for k, original in enumerate(originals):
        valid = workdir / f"valid{k}.csr"
        valid.write_bytes(original)
        stores.append(GraphStore.open(valid, verify=True))
    for i in range(num_cases):
        # A fresh name per case: rewriting one file in place makes ext4 flush it to disk every time.
        path = workdir / f"case{i}.csr"
        k = i % len(originals)
        if rng.random() < 0.8:
            check_file(path, mutate(rng, originals[k]), stores[k], counts)
            counts["mutated"] += 1
        else:
            check_file(path, random_file(rng, originals[k]), stores[k], counts)
            counts["random"] += 1
        path.unlink()
    fuzz_lines(rng, num_cases, counts)
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
