r"""On the authors' problem, tuned SGD, momentum and EMA report the exact first hit.

For a sample of (optimizer, p, B) cells of the paper's grids (target 0.01), ``nn.tune`` on
``Problem.paper()`` gives hyperparameters and steps T; an independent 30-digit reference written
here checks that :math:`E\mathcal L(T) \le 0.01 < E\mathcal L(t)` for every :math:`t < T`.

The reference shares no code with the engine or with ``nqm.theory``: it writes out the update
rules with the preconditioner applied as the notebook applies it (gradient step
:math:`g = \alpha h^{-p}` on the noisy gradient :math:`h\theta + \xi`, :math:`E\xi^2 = c/B`, loss
:math:`\tfrac12 h\,E(\cdot)^2` on the *unpreconditioned* curvature), and iterates the second
moments :math:`(E x_1^2, E x_1x_2, E x_2^2, 1)` of the two-component state literally in mpmath:

* SGD: :math:`\theta' = (1-gh)\theta - g\xi`;
* heavy-ball momentum (eq. 5): :math:`v' = \beta v - g(h\theta+\xi)`, :math:`\theta' = \theta + v'`,
  :math:`v_0 = 0`;
* EMA (eq. 11, the notebook's transition): :math:`\theta' = (1-gh)\theta - g\xi`,
  :math:`\bar\theta' = \gamma\bar\theta + (1-\gamma)\theta'`, :math:`\bar\theta_0 = \theta_0`; the loss is
  measured at :math:`\bar\theta`.

Every :math:`t \le T` is checked where T is small; for SGD at small B (T in the tens of
thousands) every direction's second moment decreases monotonically (its stationary value is below
its start, which the test checks), so the total risk is non-increasing and the boundary
:math:`T-1, T` decides. For large T of momentum and EMA (slow tests) the engine's risk is checked
against the reference at a set of steps and at the boundary, and its minimum over :math:`t < T`
must clear the target by far more than its verified error.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import nqm.numerics as nn

PAPER = nn.Problem.paper()
TARGET = 0.01
DIGITS = 30
#: the engine's relative accuracy, checked against the reference at the sampled steps
ENGINE_RTOL = 1e-10


def _transition(kind: str, h: float, c: float, B: float, p: float, hyper: dict[str, float]) -> list[list[mp.mpf]]:
    """4x4 affine map of one direction's (E x1^2, E x1 x2, E x2^2, 1) for one step (see the module docstring)."""
    h, c, B, p = (mp.mpf(v) for v in (h, c, B, p))
    g = mp.mpf(hyper["lr"]) * h ** (-p)
    x, q = g * h, c / B
    if kind == "sgd":
        (a11, a12), (a21, a22), (b1, b2) = (1 - x, 0), (0, 0), (-g, 0)
    elif kind == "momentum":
        beta = mp.mpf(hyper["beta"])
        (a11, a12), (a21, a22), (b1, b2) = (1 - x, beta), (-x, beta), (-g, -g)
    elif kind == "ema":
        gam = mp.mpf(hyper["gamma"])
        (a11, a12), (a21, a22), (b1, b2) = (1 - x, 0), ((1 - gam) * (1 - x), gam), (-g, -(1 - gam) * g)
    else:  # "ema-lagged": the average takes the iterate before its update, avg' = gamma avg + (1 - gamma) theta
        gam = mp.mpf(hyper["gamma"])
        (a11, a12), (a21, a22), (b1, b2) = (1 - x, 0), (1 - gam, gam), (-g, 0)
    return [
        [a11 * a11, 2 * a11 * a12, a12 * a12, b1 * b1 * q],
        [a11 * a21, a11 * a22 + a12 * a21, a12 * a22, b1 * b2 * q],
        [a21 * a21, 2 * a21 * a22, a22 * a22, b2 * b2 * q],
        [0, 0, 0, 1],
    ]


def _start(kind: str, v: float) -> list[mp.mpf]:
    v = mp.mpf(v)
    return [v, v, v, mp.mpf(1)] if kind.startswith("ema") else [v, mp.mpf(0), mp.mpf(0), mp.mpf(1)]


#: which second moment is the loss's: E theta^2, or E avg^2 for EMA
_OUT = {"sgd": 0, "momentum": 0, "ema": 2, "ema-lagged": 2}


def reference_risks(kind: str, prob: nn.Problem, B: float, p: float, hyper: dict[str, float], last: int) -> list[mp.mpf]:
    """The expected risk at t = 0..last, iterated literally (vectorised over the non-empty bins)."""
    with mp.workdps(DIGITS):
        keep = prob.weights > 0
        maps = [_transition(kind, h, c, B, p, hyper) for h, c in zip(prob.h[keep], prob.c[keep])]
        M = [[np.array([m[i][j] for m in maps], dtype=object) for j in range(4)] for i in range(4)]
        starts = [_start(kind, v) for v in prob.init_var[keep]]
        s = [np.array([st[i] for st in starts], dtype=object) for i in range(4)]
        f = np.array([mp.mpf(w) * mp.mpf(h) / 2 for w, h in zip(prob.weights[keep], prob.h[keep])], dtype=object)
        out = []
        for _ in range(last + 1):
            out.append(mp.fsum(f * s[_OUT[kind]]))
            s = [M[i][0] * s[0] + M[i][1] * s[1] + M[i][2] * s[2] + M[i][3] for i in range(3)] + [s[3]]
        return out


def reference_risk_at(kind: str, prob: nn.Problem, B: float, p: float, hyper: dict[str, float], t: int) -> mp.mpf:
    """The expected risk at one step t, by powering each direction's 4x4 map (repeated squaring)."""
    with mp.workdps(DIGITS):
        total = mp.mpf(0)
        for h, c, v, w in zip(prob.h, prob.c, prob.init_var, prob.weights):
            if w == 0:
                continue
            moments = mp.matrix(_transition(kind, h, c, B, p, hyper)) ** int(t) * mp.matrix(_start(kind, v))
            total += mp.mpf(w) * mp.mpf(h) / 2 * moments[_OUT[kind]]
        return total


_CLASSES = {"sgd": nn.SGD, "momentum": nn.Momentum, "ema": nn.EMA}


def _tuned(kind: str, p: float, B: float) -> nn.TuneResult:
    got = nn.tune(PAPER, _CLASSES[kind], batch_size=B, target=TARGET, precond_power=p)
    assert isinstance(got.steps, int) and got.steps > 1
    return got


def _engine(kind: str, p: float, B: float, hyper: dict[str, float], steps: np.ndarray) -> np.ndarray:
    return nn.expected_risk(PAPER, _CLASSES[kind](**hyper, precond_power=p), batch_size=B, steps=steps)


def _check_every_step(kind: str, p: float, B: float) -> tuple[nn.TuneResult, list[mp.mpf]]:
    got = _tuned(kind, p, B)
    ref = reference_risks(kind, PAPER, B, p, got.hyperparameters, got.steps)
    T = got.steps
    assert ref[T] <= TARGET and all(r > TARGET for r in ref[:T])
    steps = np.unique(np.linspace(0, T, 40).round().astype(int))
    np.testing.assert_allclose(_engine(kind, p, B, got.hyperparameters, steps), [float(ref[t]) for t in steps], rtol=ENGINE_RTOL)
    return got, ref


@pytest.mark.parametrize("kind, p, B", [("momentum", 0.5, 16384.0), ("sgd", 0.5, 16384.0)])
def test_small_step_counts_are_exact_first_hits(kind: str, p: float, B: float) -> None:
    _check_every_step(kind, p, B)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, p, B",
    [("momentum", 0.5, 1024.0), ("momentum", 0.0, 16384.0), ("ema", 0.5, 16384.0), ("sgd", 0.5, 1024.0)],
)
def test_more_step_counts_are_exact_first_hits(kind: str, p: float, B: float) -> None:
    _check_every_step(kind, p, B)


def test_tuned_ema_at_half_preconditioning_and_B_1024_takes_794_steps() -> None:
    r"""795 steps had been reported for this cell on the authors' problem. The exact first hit is 794:
    E L(793) is above 0.01 by 3e-5 relative (no rounding tie), E L(794) below it by 1e-3.

    The notebook's own protocol reports 793: its binary search (``time_to_loss_ema``) returns
    ``low``, the last probed step still at or above the target, i.e. the first hit minus one on a
    monotone curve. 795 is what an EMA that averages the iterate *before* the update gives
    (:math:`\bar\theta' = \gamma\bar\theta + (1-\gamma)\theta`): its risk is the eq.-11 risk one step
    later, so its first hit is exactly one more.
    """
    got, ref = _check_every_step("ema", 0.5, 1024.0)
    assert got.steps == 794
    assert ref[793] > TARGET * (1 + 1e-5) and ref[794] < TARGET * (1 - 1e-4)

    # the notebook's search, transcribed, on the (verified) exact risk
    def risk(t: int) -> float:
        return float(_engine("ema", 0.5, 1024.0, got.hyperparameters, np.array([t]))[0])

    low, high = 0, 10_000_000
    while low < high - 1:
        mid = (low + high) // 2
        low, high = (low, mid) if risk(mid) < TARGET else (mid, high)
    assert (low, high) == (793, 794)

    # the one-step-lagged average reaches the target exactly one step later
    lagged = {t: reference_risk_at("ema-lagged", PAPER, 1024.0, 0.5, got.hyperparameters, t) for t in (794, 795)}
    assert lagged[794] > TARGET >= lagged[795]
    assert mp.almosteq(lagged[795], ref[794], rel_eps=mp.mpf(10) ** (5 - DIGITS))


@pytest.mark.parametrize("p, B", [(0.5, 64.0), (0.0, 64.0)])
def test_sgd_at_small_batch_sizes_by_monotonicity(p: float, B: float) -> None:
    """T = 21,589 (p = 0.5) and 95,762 (p = 0): too many
    steps to iterate, but each direction's E theta^2 = s* + (1 - g h)^(2t) (v - s*) with stationary
    value s* below its start v decreases in t, so the risk does and T - 1, T decide."""
    got = _tuned("sgd", p, B)
    T = got.steps
    with mp.workdps(DIGITS):
        for h, c, v in zip(PAPER.h, PAPER.c, PAPER.init_var):
            g = mp.mpf(got.hyperparameters["lr"]) * mp.mpf(h) ** (-mp.mpf(p))
            q = (1 - g * mp.mpf(h)) ** 2
            assert q < 1 and g * g * mp.mpf(c) / B / (1 - q) < v
        before, at = (reference_risk_at("sgd", PAPER, B, p, got.hyperparameters, t) for t in (T - 1, T))
    assert at <= TARGET < before
    np.testing.assert_allclose(_engine("sgd", p, B, got.hyperparameters, np.array([T - 1, T])), [float(before), float(at)],
                               rtol=ENGINE_RTOL)
    if p == 0.5:
        assert T == 21_589


@pytest.mark.slow
@pytest.mark.parametrize("kind, p, B", [("momentum", 0.5, 64.0), ("ema", 0.5, 64.0), ("momentum", 0.0, 1024.0)])
def test_large_step_counts_engine_against_the_reference(kind: str, p: float, B: float) -> None:
    """T in the thousands to tens of thousands: the reference at 12 steps and the boundary; the
    engine's risk over every t < T clears the target by far more than its verified error."""
    got = _tuned(kind, p, B)
    T = got.steps
    sample = sorted({*np.linspace(0, T, 10).round().astype(int).tolist(), T - 1, T})
    ref = {t: reference_risk_at(kind, PAPER, B, p, got.hyperparameters, t) for t in sample}
    assert ref[T] <= TARGET < ref[T - 1]
    np.testing.assert_allclose(_engine(kind, p, B, got.hyperparameters, np.array(sample)), [float(ref[t]) for t in sample],
                               rtol=ENGINE_RTOL)
    # t = T - 1 is decided by the reference above; every earlier step clears the target by 10x the engine's error
    before = _engine(kind, p, B, got.hyperparameters, np.arange(T - 1))
    assert np.all(before > TARGET * (1 + 10 * ENGINE_RTOL))
