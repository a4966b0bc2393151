"""The result cache runs no code and serves only intact entries written for the requested key.

Every damaged entry (truncated, garbage, bit flips, edited values under the old hash, a file
of another key, a pickle) must be refused with a ``CacheWarning`` naming the file, recomputed,
overwritten, and the run must give exactly the uncached result.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pickle
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nqm.numerics as nn
from nqm.numerics import config_key, map_tasks
from nqm.numerics._cache import (
    CacheWarning,
    CorruptEntry,
    ResultCache,
    decode_entry,
    entry_bytes,
    from_plain,
    to_plain,
)


def same(a: Any, b: Any) -> bool:
    """Exactly equal: same types all the way down, arrays bit for bit (so NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (np.ndarray, np.generic)):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, float):
        return a.hex() == b.hex() if not math.isnan(a) else math.isnan(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if dataclasses.is_dataclass(a):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if hasattr(a, "__dict__"):
        return same(vars(a), vars(b))
    return bool(a == b)


# --- the plain form -------------------------------------------------------------------------

DTYPES = ["bool", "int8", "int64", "uint16", "float16", "float32", "float64", "complex128"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.floats(allow_nan=True, allow_infinity=True),
    hnp.from_dtype(np.dtype("float64")), hnp.from_dtype(np.dtype("int32")), hnp.from_dtype(np.dtype("bool")),
)
arrays = st.sampled_from(DTYPES).flatmap(
    lambda dt: hnp.arrays(np.dtype(dt), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)))
hashable = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4), st.floats(allow_nan=False))
values = st.recursive(
    st.one_of(scalars, arrays),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(hashable, inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_plain_form_is_strict_json_and_gives_back_the_same_types_and_bits(value: Any) -> None:
    text = json.dumps(to_plain(value), allow_nan=False)
    assert same(from_plain(json.loads(text)), value)


def test_big_endian_arrays_come_back_equal_in_native_order() -> None:
    value = np.array([1.5, -0.0, np.nan], dtype=">f8")
    back = from_plain(json.loads(json.dumps(to_plain(value))))
    assert back.dtype == np.dtype("<f8") and same(back, value.astype("<f8"))


def test_registered_result_types_round_trip() -> None:
    result = nn.ScheduleResult(steps=12.0, lrs=np.array([0.5, 0.25]), lengths=np.array([4, 8]),
                               boundaries=np.array([0, 4, 12]), risk=np.array([1.0, 0.5, 0.01]), final_risk=0.01,
                               final_lr=0.25, max_lr=1.0, converged=True, message="ok", evaluations=3,
                               searched={12: 0.01, 11: math.inf})
    assert same(from_plain(json.loads(json.dumps(to_plain(result)))), result)


def test_unregistered_types_are_neither_stored_nor_built(tmp_path: Path) -> None:
    class Opaque:
        pass

    with pytest.raises(TypeError, match="register_result_type"):
        to_plain([1, Opaque()])
    key = config_key("opaque")
    cache = ResultCache(tmp_path)
    with pytest.warns(CacheWarning, match="Opaque"):
        cache.put(key, Opaque())
    assert cache.get(key) == (False, None)
    # a file naming a type that is not registered is refused even with a matching hash
    for forged in ({"object": "Popen", "fields": {"dict": []}}, {"object": "subprocess.Popen", "fields": {}},
                   {"array": {"dtype": "|O", "shape": [1], "data": "AAAAAAAAAAA="}}):
        with pytest.raises(CorruptEntry):
            decode_entry(key, entry_bytes(key, forged))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.sampled_from(["inf", "nan", "<f8", "|b1", "", "AAAA", "Popen", "_Statistics", "ScheduleResult"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["float", "tuple", "dict", "array", "scalar", "object", "fields", "dtype",
                                         "shape", "data", "x"]), inner, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_any_json_with_a_valid_hash_is_rebuilt_or_refused_never_an_uncaught_error(result: Any) -> None:
    """What a forger could write: only ``CorruptEntry`` (a refusal) or a value ever comes out."""
    key = config_key("forged")
    try:
        decode_entry(key, entry_bytes(key, result))
    except CorruptEntry:
        pass


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_refused_with_corrupt_entry(contents: bytes) -> None:
    with pytest.raises(CorruptEntry):
        decode_entry(config_key("bytes"), contents)


def test_deeply_nested_files_are_refused() -> None:
    key = config_key("deep")
    with pytest.raises(CorruptEntry):
        decode_entry(key, b"[" * 100_000 + b"]" * 100_000)
    deep = '{"tuple":[' * 5000 + "0" + "]}" * 5000
    header, _, _ = entry_bytes(key, 0).partition(b"\n")
    with pytest.raises(CorruptEntry):
        decode_entry(key, header + b"\n" + deep.encode())


# --- damaged files, over many entries -------------------------------------------------------

#: tasks run by :func:`typed_result` (the cache key names the function: module level)
RAN: list[int] = []
TASKS = list(range(24))


def typed_result(x: int) -> Any:
    """A result with every kind of value the toolkit's tasks return."""
    RAN.append(x)
    return (x / 7, {"n": np.int64(x), 2: [math.inf, None, -0.0]}, np.arange(x, dtype=float) / 3,
            np.float32(x) / 3, x % 2 == 0, [float("nan"), 1_507_529 + x], "label")


def _flip(contents: bytes, rng: random.Random) -> bytes:
    data = bytearray(contents)
    bit = rng.randrange(8 * len(data))
    data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


def _edit_value(contents: bytes, rng: random.Random) -> bytes:
    """Valid JSON, hash kept, one stored number changed by one (as 1,507,529 -> 1,507,528)."""
    header, _, body = contents.partition(b"\n")
    result = json.loads(body)
    result["tuple"][5][1] -= 1
    return header + b"\n" + json.dumps(result).encode()


def _edit_array(contents: bytes, rng: random.Random) -> bytes:
    """Valid JSON, hash kept, one byte of the stored array's data changed."""
    import base64

    header, _, body = contents.partition(b"\n")
    result = json.loads(body)
    form = result["tuple"][2]["array"]
    raw = bytearray(base64.b64decode(form["data"]))
    if not raw:
        return _edit_value(contents, rng)
    raw[rng.randrange(len(raw))] ^= 0x01
    form["data"] = base64.b64encode(bytes(raw)).decode()
    return header + b"\n" + json.dumps(result).encode()


DAMAGE = {
    "truncated": lambda c, rng, other: c[: rng.randrange(len(c))],
    "empty": lambda c, rng, other: b"",
    "garbage": lambda c, rng, other: bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))),
    "bit flip": lambda c, rng, other: _flip(c, rng),
    "edited value": lambda c, rng, other: _edit_value(c, rng),
    "edited array": lambda c, rng, other: _edit_array(c, rng),
    "another key's file": lambda c, rng, other: other,
    "not utf-8": lambda c, rng, other: b"\xff\xfe" + c,
    "a pickle": lambda c, rng, other: pickle.dumps(_Marker(MARKER)),
}


class _Marker:
    """Unpickling this creates ``path`` (what a malicious pickle in the cache folder would do)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


MARKER = ""


@pytest.fixture()
def populated(tmp_path: Path) -> tuple[ResultCache, list[Path], list[Any]]:
    global MARKER
    MARKER = str(tmp_path / "code-ran")
    cache = ResultCache(tmp_path / "cache", "fuzz")
    RAN.clear()
    first = map_tasks(typed_result, TASKS, executor="serial", cache=cache)
    uncached = [typed_result(x) for x in TASKS]
    assert all(same(a, b) for a, b in zip(first, uncached))
    keys = [config_key((typed_result.__module__, typed_result.__qualname__, x)) for x in TASKS]
    return cache, [cache.path(k) for k in keys], uncached


def _rerun(cache: ResultCache) -> tuple[list[Any], list[int], list[str]]:
    RAN.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = map_tasks(typed_result, TASKS, executor="serial", cache=cache)
    messages = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
    assert len(messages) == len(caught), [str(w.message) for w in caught]
    return got, sorted(RAN), messages


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_entries_are_recomputed_with_a_warning_and_overwritten(damage: str, populated) -> None:
    cache, paths, uncached = populated
    rng = random.Random(damage)
    originals = [p.read_bytes() for p in paths]
    for i, path in enumerate(paths):
        path.write_bytes(DAMAGE[damage](originals[i], rng, originals[(i + 1) % len(paths)]))
    got, ran, messages = _rerun(cache)
    assert all(same(a, b) for a, b in zip(got, uncached)), "a damaged entry was served"
    assert ran == TASKS, "every damaged entry is recomputed"
    for path in paths:
        assert sum(str(path) in m for m in messages) == 1, f"no single warning names {path}"
    assert not Path(MARKER).exists()
    got, ran, messages = _rerun(cache)  # overwritten with intact entries
    assert ran == [] and messages == [] and all(same(a, b) for a, b in zip(got, uncached))


def test_an_old_pickle_file_is_never_loaded(populated) -> None:
    cache, paths, uncached = populated
    for path in paths:
        path.unlink()
        path.with_suffix(".pkl").write_bytes(pickle.dumps(_Marker(MARKER)))
    got, ran, messages = _rerun(cache)
    assert ran == TASKS and messages == [] and all(same(a, b) for a, b in zip(got, uncached))
    assert not Path(MARKER).exists()


def test_an_unreadable_entry_or_folder_warns_and_the_run_goes_on(populated) -> None:
    cache, paths, uncached = populated
    paths[0].unlink()
    paths[0].mkdir()  # a directory where the file should be: reading and writing both fail
    got, ran, messages = _rerun(cache)
    assert ran == [0] and all(same(a, b) for a, b in zip(got, uncached))
    assert any("cannot read" in m and str(paths[0]) in m for m in messages)
    assert any("cannot write" in m and str(paths[0]) in m for m in messages)


def test_bad_keys_are_value_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="key must be 64 lowercase hexadecimal digits"):
        ResultCache(tmp_path).get("../../etc/passwd")


# --- the toolkit's cached computations --------------------------------------------------------

def _damage_all(directory: Path) -> list[Path]:
    """Edit the first number of every entry's result (header and hash kept) and return the files."""
    files = sorted(directory.rglob("*.json"))
    for path in files:
        text = path.read_text()
        i = next(i for i in range(text.index("\n"), len(text)) if text[i].isdigit() and text[i - 1] in ":[,")
        path.write_text(text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1:])
    return files


def test_a_sweep_never_serves_an_altered_entry(tmp_path: Path) -> None:
    """The reported case: an edited cache entry changed a sweep's steps, silently."""
    problem, batch_sizes = nn.Problem.paper(), np.array([4.0, 64.0, 1024.0])
    uncached = nn.sweep(problem, "momentum", batch_sizes=batch_sizes, target=0.01, executor="serial")
    first = nn.sweep(problem, "momentum", batch_sizes=batch_sizes, target=0.01, executor="serial", cache=tmp_path)
    assert first == uncached
    files = _damage_all(tmp_path)
    assert files
    with pytest.warns(CacheWarning) as caught:
        again = nn.sweep(problem, "momentum", batch_sizes=batch_sizes, target=0.01, executor="serial", cache=tmp_path)
    assert again == uncached
    for path in files:
        assert any(str(path) in str(w.message) for w in caught)


def test_monte_carlo_and_schedule_sweep_results_come_back_exactly(tmp_path: Path) -> None:
    def mc(cache: Any) -> Any:
        return nn.monte_carlo(nn.Problem([1.0, 0.1]), nn.SGD(lr=0.5), batch_size=4, steps=20, runs=50, seed=1,
                              targets=[0.3], keep_curves=True, executor="serial", cache=cache)

    def sched(cache: Any) -> Any:
        return nn.schedule_sweep(batch_sizes=[4.0, 64.0], pieces=3, executor="serial", cache=cache)

    for run in (mc, sched):
        uncached = run(None)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)
            stored, served = run(tmp_path), run(tmp_path)
        assert same(stored, uncached) and same(served, uncached)
    files = _damage_all(tmp_path)
    for run in (mc, sched):
        with pytest.warns(CacheWarning):
            assert same(run(tmp_path), run(None))
    assert len(files) >= 3


def test_network_search_results_round_trip() -> None:
    pytest.importorskip("torch")
    from nqm.proofs.networks._digits import SearchResult

    result = SearchResult(optimizer="momentum", batch_size=64, hyperparameters={"lr": [0.1, 0.2], "beta": [0.9, 0.99]},
                          steps=[120.0, math.inf], diverged=[False, True], stopped_at=500, best_steps=120.0, best_index=0)
    assert same(from_plain(json.loads(json.dumps(to_plain(result)))), result)


def test_links_to_devices_and_fifos_are_refused_without_blocking(populated) -> None:
    cache, paths, uncached = populated
    paths[0].unlink()
    paths[0].symlink_to("/dev/zero")  # reading it would never end
    paths[1].unlink()
    os.mkfifo(paths[1])  # opening it for reading would wait for a writer
    got, ran, messages = _rerun(cache)
    assert ran[:2] == [0, 1] and all(same(a, b) for a, b in zip(got, uncached))
    assert any("not a regular file" in m and str(paths[0]) in m for m in messages)
    assert any("not a regular file" in m and str(paths[1]) in m for m in messages)


def test_subclasses_of_plain_types_are_not_stored_as_their_base() -> None:
    """An ``IntEnum`` or ``str`` subclass would come back as a plain ``int``/``str``: refused instead."""
    import enum

    class Level(enum.IntEnum):
        LOW = 1

    for value in (Level.LOW, np.ma.masked_array([1.0, 2.0])):
        with pytest.raises(TypeError, match="register_result_type"):
            to_plain(value)
