"""Schedule presets of ``nqm.numerics.schedules``: values, pieces, names, edges and bad input.

Each preset's values are checked against its documented formula, written again here step by step
in mpmath at 40 digits (the textbook form, e.g. ``(1 + cos(pi p))/2``, not the cancellation-free
form the module evaluates) and rounded once to float64. The module's values are a few roundings
from the exact ones, so they must agree to ``RTOL = 1e-14`` relative (about 45 units of roundoff;
the formulas take at most ten operations, each off by at most half a unit, and the transcendental
functions by at most a unit or two). Rounded batch sizes must agree exactly. The pieces of
a preset must be its values exactly (``np.repeat(levels, lengths) == values(T)``).
"""

from __future__ import annotations

import math
import pickle
import sys
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import nqm.numerics as nn
import nqm.theory as nt
from nqm.numerics import schedules as S

sys.path.insert(0, str(Path(__file__).parent))
from _schedule_reference import per_step_risk  # noqa: E402

mp.mp.dps = 40
RTOL = 1e-14
FEW = settings(max_examples=25, deadline=None)


def at(f: float, T: int) -> int:
    """The step a fraction names, as documented: floor(f T + 1/2), in [0, T]."""
    return min(max(math.floor(f * T + 0.5), 0), T)


# --------------------------------------------------------------- the formulas, step by step, in mpmath
def ref_warmup_then(peak, W, T, rest):
    return [mp.mpf(peak) * (t + 1) / W if t < W else rest(t) for t in range(T)]


def ref_linear(peak, final, warmup, T):
    W = at(warmup, T)
    return ref_warmup_then(peak, W, T, lambda t: final + (mp.mpf(peak) - final) * (1 - mp.mpf(t - W) / (T - W)))


def ref_cosine(peak, final, warmup, T):
    W = at(warmup, T)
    return ref_warmup_then(
        peak, W, T, lambda t: final + (mp.mpf(peak) - final) * (1 + mp.cos(mp.pi * mp.mpf(t - W) / (T - W))) / 2
    )


def ref_wsd(peak, final, warmup, cooldown, shape, T):
    C = at(cooldown, T)
    start = T - C
    W = min(at(warmup, T), start)
    s = (lambda p: 1 - p) if shape == "linear" else (lambda p: 1 - mp.sqrt(p))
    return ref_warmup_then(
        peak, W, T, lambda t: mp.mpf(peak) if t < start else final + (mp.mpf(peak) - final) * s(mp.mpf(t - start) / C)
    )


def ref_steps(initial, factor, fractions, T, integer=False):
    b = [at(f, T) for f in fractions]
    out = [mp.mpf(initial) * mp.mpf(factor) ** sum(t >= bk for bk in b) for t in range(T)]
    return [mp.floor(v + 0.5) for v in out] if integer else out


def ref_inverse(initial, scale, power, T):
    return [mp.mpf(initial) / (1 + mp.mpf(t) / (mp.mpf(scale) * T)) ** power for t in range(T)]


def ref_ramp(b0, b1, ramp, geometric, integer, T):
    R = at(ramp, T)
    b0, b1 = mp.mpf(b0), mp.mpf(b1)
    curve = [
        (b0 * (b1 / b0) ** (mp.mpf(t) / R) if geometric else b0 + (b1 - b0) * mp.mpf(t) / R) if t < R else b1
        for t in range(T)
    ]
    return [mp.floor(v + 0.5) for v in curve] if integer else curve


def check(schedule: S.Schedule, reference: list, T: int, exact: bool = False) -> None:
    """values(T) against the reference, and pieces(T) (when given) equal to values(T)."""
    got = schedule.values(T)
    want = np.array([float(v) for v in reference])
    assert got.shape == (T,) and got.dtype == float
    if exact:
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)
    check_pieces(schedule, T, got)


def check_pieces(schedule: S.Schedule, T: int, values: np.ndarray | None = None) -> None:
    piece = schedule.pieces(T)
    if piece is None:
        return
    levels, lengths = piece
    assert lengths.dtype == np.int64 and np.all(lengths >= 1) and lengths.sum() == T
    assert np.all(levels[1:] != levels[:-1]), "equal neighbouring pieces are merged"
    if values is not None:
        np.testing.assert_array_equal(np.repeat(levels, lengths), values)


horizons = st.integers(1, 300)
fractions = st.floats(0.0, 1.0)
peaks = st.floats(1e-3, 10.0)


# --------------------------------------------------------------- each preset against its formula
@FEW
@given(T=horizons, peak=peaks, final_share=st.floats(0.0, 0.99), warmup=fractions)
def test_linear_and_cosine(T, peak, final_share, warmup) -> None:
    final = peak * final_share
    check(S.linear_decay(peak, final, warmup=warmup), ref_linear(peak, final, warmup, T), T)
    check(S.cosine(peak, final, warmup=warmup), ref_cosine(peak, final, warmup, T), T)
    assert S.cosine(peak, final, warmup=warmup).pieces(T) is None  # per step: no constant piece


@FEW
@given(T=horizons, peak=peaks, final_share=st.floats(0.0, 0.99), split=st.tuples(fractions, fractions),
       shape=st.sampled_from(["linear", "1-sqrt"]))
def test_wsd(T, peak, final_share, split, shape) -> None:
    warmup, cooldown = split
    assume(warmup + cooldown <= 1)
    final = peak * final_share
    sched = S.wsd(peak, final, warmup=warmup, cooldown=cooldown, shape=shape)
    check(sched, ref_wsd(peak, final, warmup, cooldown, shape, T), T)
    # the stable phase is one piece: at most one piece per warmup or cooldown step, plus one
    C = at(cooldown, T)
    W = min(at(warmup, T), T - C)
    piece = sched.pieces(T)
    if piece is None:
        assert W + C == T, "only a schedule without a stable phase is left to the per-step path"
    else:
        assert piece[0].size <= W + C + 1


@FEW
@given(T=horizons, peak=peaks, factor=st.floats(0.05, 3.0),
       bounds=st.lists(st.floats(0.01, 0.99), min_size=1, max_size=4, unique=True))
def test_step_decay_and_batch_doubling(T, peak, factor, bounds) -> None:
    bounds = sorted(bounds)
    check(S.step_decay(peak, factor, bounds), ref_steps(peak, factor, bounds, T), T)
    B0 = 1 + peak
    grow = 1 + factor
    check(S.batch_doubling(B0, bounds, grow), ref_steps(B0, grow, bounds, T), T)
    check(S.batch_doubling(B0, bounds, grow, integer=True), ref_steps(B0, grow, bounds, T, integer=True), T, exact=True)
    levels, _ = S.step_decay(peak, factor, bounds).pieces(T)
    assert levels.size <= len(bounds) + 1


def test_every_is_the_same_as_its_boundaries() -> None:
    T = 97
    check(S.step_decay(2.0, 0.5, every=0.3), ref_steps(2.0, 0.5, [0.3, 0.6, 0.9], T), T)
    check(S.batch_doubling(4, every=0.25), ref_steps(4, 2, [0.25, 0.5, 0.75], T), T)


@FEW
@given(T=horizons, u0=peaks, scale=st.floats(1e-3, 10.0))
def test_inverse_time_and_sqrt(T, u0, scale) -> None:
    check(S.inverse_time(u0, scale), ref_inverse(u0, scale, 1, T), T)
    check(S.inverse_sqrt(u0, scale), ref_inverse(u0, scale, mp.mpf(1) / 2, T), T)


@FEW
@given(T=horizons, b0=st.floats(1.0, 100.0), grow=st.floats(1.0, 50.0), ramp=fractions)
def test_batch_ramps_real(T, b0, grow, ramp) -> None:
    b1 = b0 * grow
    for geometric, fn in ((False, S.batch_linear_ramp), (True, S.batch_geometric_ramp)):
        sched = fn(b0, b1, ramp)
        check(sched, ref_ramp(b0, b1, ramp, geometric, False, T), T)
        assert np.all(sched.values(T) >= 1)


@FEW
@given(T=st.integers(1, 2000), b0=st.integers(1, 64), extra=st.integers(0, 3000), ramp=fractions)
def test_batch_ramps_integer(T, b0, extra, ramp) -> None:
    b1 = b0 + extra
    for geometric, fn in ((False, S.batch_linear_ramp), (True, S.batch_geometric_ramp)):
        sched = fn(b0, b1, ramp, integer=True)
        check(sched, ref_ramp(b0, b1, ramp, geometric, True, T), T, exact=True)
        levels, _ = sched.pieces(T)
        assert levels.size <= extra + 1, "one piece per distinct batch size"


# --------------------------------------------------------------- horizons far beyond per-step evaluation
@pytest.mark.parametrize("T", [10**9, 10**12])
def test_piecewise_presets_span_huge_horizons_in_few_pieces(T) -> None:
    """Step decay, doubling and integer ramps: pieces in O(pieces) for T far beyond MAX_SCHEDULE_STEPS,
    each piece's first and last step valued by the formula (in mpmath at those steps alone)."""
    cases = [
        (S.step_decay(0.5, 0.1, (0.3, 0.6, 0.9)), lambda t: ref_steps_at(0.5, 0.1, (0.3, 0.6, 0.9), T, t), 4),
        (S.batch_doubling(8, every=0.125), lambda t: ref_steps_at(8, 2, [k / 8 for k in range(1, 8)], T, t), 8),
        (S.batch_linear_ramp(32, 1024, 0.1, integer=True), lambda t: ramp_at(32, 1024, 0.1, False, T, t), 993),
        (S.batch_geometric_ramp(32, 1024, 0.1, integer=True), lambda t: ramp_at(32, 1024, 0.1, True, T, t), 993),
    ]
    for sched, ref, most in cases:
        levels, lengths = sched.pieces(T)
        assert levels.size <= most and lengths.sum() == T and np.all(lengths >= 1)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        for level, first, length in zip(levels, starts, lengths):
            assert level == ref(int(first)) == ref(int(first + length - 1))
        assert all(levels[k] != levels[k + 1] for k in range(levels.size - 1))


def ref_steps_at(initial, factor, fractions, T, t) -> float:
    return float(mp.mpf(initial) * mp.mpf(factor) ** sum(t >= at(f, T) for f in fractions))


def ramp_at(b0, b1, ramp, geometric, T, t) -> float:
    R = at(ramp, T)
    if t >= R:
        return float(b1)
    b0, b1 = mp.mpf(b0), mp.mpf(b1)
    v = b0 * (b1 / b0) ** (mp.mpf(t) / R) if geometric else b0 + (b1 - b0) * mp.mpf(t) / R
    return float(mp.floor(v + 0.5))


def test_wsd_with_a_short_cooldown_spans_a_billion_steps() -> None:
    T = 10**9
    sched = S.wsd(1.0, warmup=1e-5, cooldown=1e-5)
    levels, lengths = sched.pieces(T)
    # the warmup's last step and the cooldown's first (both the peak) merge with the stable piece
    assert levels.size == 2 * 10**4 - 1
    assert lengths.max() == T - 2 * 10**4 + 2 and levels[lengths.argmax()] == 1.0
    seg = S.segments({"lr": sched, S.BATCH_SIZE: S.batch_linear_ramp(64, 256, 0.5, integer=True)}, T)
    assert seg.steps == T and seg.lengths.size < 3 * 10**4


def test_a_long_per_step_part_is_refused_before_any_work() -> None:
    with pytest.raises(ValueError, match=r"schedule\['lr'\] is not piecewise constant .* at most 10,000,000 steps"):
        S.segments({"lr": S.wsd(1.0, cooldown=0.2)}, 10**9)
    assert S.cosine(1.0).pieces(10**9) is None


# --------------------------------------------------------------- edges of the conventions
def test_horizon_shorter_than_the_warmup() -> None:
    # T = 1: the warmup (one step, 0.9 T rounds to 1) ends at the peak; 0.4 T rounds to 0: no warmup
    assert S.cosine(2.0, warmup=0.9).values(1).tolist() == [2.0]
    assert S.cosine(2.0, warmup=0.4).values(1).tolist() == [2.0]
    assert S.wsd(2.0, warmup=0.5, cooldown=0.5).values(1).tolist() == [2.0]  # C = 1: the cooldown's first step
    check(S.wsd(3.0, warmup=0.5, cooldown=0.5), ref_wsd(3.0, 0, 0.5, 0.5, "linear", 7), 7)  # W = 4 yields to 7 - C = 3
    assert S.wsd(3.0, warmup=0.5, cooldown=0.5).values(7)[2] == 3.0


def test_fractions_zero_and_one() -> None:
    T = 10
    assert S.wsd(1.5, cooldown=0.0).pieces(T)[0].tolist() == [1.5]  # constant
    check(S.wsd(1.5, cooldown=1.0), ref_linear(1.5, 0.0, 0.0, T), T)  # all cooldown: the linear decay
    np.testing.assert_allclose(S.cosine(1.5, warmup=1.0).values(T), 1.5 * np.arange(1, T + 1) / T, rtol=RTOL)
    assert S.batch_linear_ramp(4, 16, 0.0).pieces(T)[0].tolist() == [16.0]  # no ramp: the final size at once
    check(S.batch_linear_ramp(4, 16, 1.0), ref_ramp(4, 16, 1.0, False, False, T), T)
    assert S.linear_decay(2.0).values(T)[-1] == pytest.approx(2.0 / T, rel=RTOL)  # reaches 0 at step T only


def test_decays_keep_relative_accuracy_on_their_last_steps() -> None:
    T = 10**6
    for sched, ref in ((S.cosine(1.0), lambda t: (1 + mp.cos(mp.pi * mp.mpf(t) / T)) / 2),
                       (S.wsd(1.0, cooldown=1.0, shape="1-sqrt"), lambda t: 1 - mp.sqrt(mp.mpf(t) / T))):
        last = sched.values(T)[-3:]
        np.testing.assert_allclose(last, [float(ref(t)) for t in range(T - 3, T)], rtol=RTOL, atol=0)


# --------------------------------------------------------------- names and segments
DEFAULTS = {
    "constant": lambda u, T: [mp.mpf(u)] * T,
    "step": lambda u, T: ref_steps(u, 0.1, (0.5, 0.75), T),
    "linear": lambda u, T: ref_linear(u, 0.0, 0.0, T),
    "cosine": lambda u, T: ref_cosine(u, 0.0, 0.0, T),
    "wsd": lambda u, T: ref_wsd(u, 0.0, 0.0, 0.2, "linear", T),
    "wsd_sqrt": lambda u, T: ref_wsd(u, 0.0, 0.0, 0.2, "1-sqrt", T),
    "inverse_time": lambda u, T: ref_inverse(u, 0.1, 1, T),
    "inverse_sqrt": lambda u, T: ref_inverse(u, 0.1, mp.mpf(1) / 2, T),
    "batch_linear": lambda u, T: ref_ramp(u, 4 * u, 0.5, False, False, T),
    "batch_geometric": lambda u, T: ref_ramp(u, 4 * u, 0.5, True, False, T),
    "batch_doubling": lambda u, T: ref_steps(u, 2, (0.5, 0.75), T),
}


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_preset_names_are_the_documented_defaults(name) -> None:
    T, base = 41, 3.0
    check(S.as_schedule(name, name="lr", base=base), DEFAULTS[name](base, T), T)
    assert f'``"{name}"``' in S.__doc__


def test_every_preset_name_is_documented_and_tested() -> None:
    with pytest.raises(ValueError, match="presets: ") as err:
        S.as_schedule("no such preset", base=1.0)
    listed = str(err.value).split("presets: ")[1].split(", ")
    assert sorted(listed) == sorted(DEFAULTS)


@FEW
@given(T=st.integers(1, 400), warmup=st.floats(0, 0.3), cooldown=st.floats(0, 0.5), ramp=fractions,
       bounds=st.lists(st.floats(0.01, 0.99), min_size=1, max_size=3, unique=True))
def test_segments_join_presets(T, warmup, cooldown, ramp, bounds) -> None:
    schedule = {
        "lr": S.wsd(0.5, warmup=warmup, cooldown=cooldown),
        "beta": S.step_decay(0.9, 0.5, sorted(bounds)),
        "gamma": "cosine",
        S.BATCH_SIZE: S.batch_geometric_ramp(8, 512, ramp, integer=True),
    }
    seg = S.segments(schedule, T, bases={"gamma": 0.5})
    assert seg.steps == T and np.all(seg.lengths >= 1)
    for key, raw in schedule.items():
        want = S.as_schedule(raw, base=0.5).values(T)
        np.testing.assert_array_equal(seg.at_steps(key), want)
    changes = np.zeros(seg.lengths.size - 1, dtype=bool)
    for v in seg.values.values():
        changes |= v[1:] != v[:-1]
    assert changes.all(), "consecutive segments differ in at least one value"


# --------------------------------------------------------------- bad input names the parameter and its range
@pytest.mark.parametrize("call, match", [
    (lambda: S.cosine(float("nan")), "peak must be a single finite number"),
    (lambda: S.cosine(1.0, "0.1"), "final must be a finite number"),
    (lambda: S.cosine(1.0, warmup=1.5), r"warmup must be a finite number in \[0, 1\]"),
    (lambda: S.linear_decay(1.0, warmup=-0.1), r"warmup must be a finite number in \[0, 1\]"),
    (lambda: S.wsd(1.0, cooldown=2), r"cooldown must be a finite number in \[0, 1\]"),
    (lambda: S.wsd(1.0, warmup=0.6, cooldown=0.5), "warmup \\+ cooldown must be at most 1"),
    (lambda: S.wsd(1.0, shape="cosine"), "shape must be one of 'linear', '1-sqrt'"),
    (lambda: S.step_decay(1.0, 0.0), r"factor must be a finite number in \(0, inf\)"),
    (lambda: S.step_decay(1.0, 0.1, [0.5, 0.3]), r"boundaries must be fractions of the horizon in \(0, 1\)"),
    (lambda: S.step_decay(1.0, 0.1, [0.0, 0.5]), r"boundaries must be fractions of the horizon in \(0, 1\)"),
    (lambda: S.step_decay(1.0, 0.1, [300, 600]), r"boundaries must be fractions of the horizon in \(0, 1\)"),
    (lambda: S.step_decay(1.0, 0.1, [0.5], every=0.1), "give exactly one of boundaries"),
    (lambda: S.step_decay(1.0, every=1.0), r"every must be a finite number in \(0, 1\)"),
    (lambda: S.step_decay(1.0, every=1e-9), "every must be at least 1/10,000,000"),
    (lambda: S.inverse_time(1.0, 0.0), r"scale must be a finite number in \(0, inf\)"),
    (lambda: S.inverse_sqrt(1.0, -1.0), r"scale must be a finite number in \(0, inf\)"),
    (lambda: S.batch_doubling(0.5), r"initial must be a finite number in \[1, inf\)"),
    (lambda: S.batch_doubling(8, factor=0.5), r"factor must be a finite number in \[1, inf\)"),
    (lambda: S.batch_linear_ramp(64, 32), r"final must be at least initial \(64.0\)"),
    (lambda: S.batch_geometric_ramp(1, 8, ramp=1.5), r"ramp must be a finite number in \[0, 1\]"),
    (lambda: S.batch_linear_ramp(1, 8, integer="yes"), "integer must be True or False"),
    (lambda: S.as_schedule("cosin", name="lr", base=0.1), "lr: no schedule preset named 'cosin'"),
    (lambda: S.as_schedule("batch_linear", name="batch_size", base=0.5),
     r"batch_size: the preset 'batch_linear' with base value 0.5: initial must be .*\[1, inf\)"),
])
def test_bad_input_names_the_parameter(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_presets_pickle_to_equal_presets() -> None:
    """Worker processes receive schedules by pickle: a preset arrives equal, with the same values."""
    for name in DEFAULTS:
        sched = S.as_schedule(name, base=2.0)
        back = pickle.loads(pickle.dumps(sched))
        assert back == sched and np.array_equal(back.values(50), sched.values(50))


# --------------------------------------------------------------- presets through the engine
def test_presets_through_the_engine_match_the_per_step_reference() -> None:
    """Each preset (its default shape; rounded batch sizes) drives nn.scheduled_risk to the risk of the
    independent 30-digit per-step reference (tests/numerics/_schedule_reference.py) at its values,
    at a few steps (so that the engine takes long pieces, such as WSD's stable phase, by their maps):
    the pieces the presets hand to the engine are exact."""
    prob = nn.Problem.paper(d=40, bins=4)
    T, lr, B = 60, 0.3, 8.0
    steps = np.array([0, 17, 45, T])
    cases = [{"lr": name} for name in DEFAULTS if not name.startswith("batch_")]
    ramps = [S.as_schedule(name, base=B) for name in DEFAULTS if name.startswith("batch_")]
    cases += [{"lr": "wsd", S.BATCH_SIZE: ramp} for ramp in ramps]
    cases += [{"lr": S.wsd(lr, warmup=0.1, cooldown=0.3, shape="1-sqrt"),
               S.BATCH_SIZE: S.batch_geometric_ramp(2, 50, 0.4, integer=True)}]
    for schedule in cases:
        constant = {} if S.BATCH_SIZE in schedule else {"batch_size": B}
        got = nn.scheduled_risk(prob, nn.SGD(lr=lr), steps=steps, schedule=schedule, **constant)
        seg = S.segments(schedule, T, bases={"lr": lr})
        batch = seg.at_steps(S.BATCH_SIZE) if S.BATCH_SIZE in schedule else B
        want = per_step_risk(nt.sgd, prob, {"lr": seg.at_steps("lr"), "batch_size": batch})[steps]
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=0, err_msg=str(schedule))
