"""The stationary second moment (discrete Lyapunov equation) against independent solvers.

References: (1) the vectorised system :math:`(I - A\\otimes A)\\,\\mathrm{vec}\\bar S =
\\mathrm{vec}(bb^\\top)` solved by mpmath's LU at random rational points, 50 digits; (2) sympy's
generic ``solve`` on the un-preconditioned built-ins (fast there), compared by cancellation.
"""

from __future__ import annotations

import random

import mpmath
import pytest
import sympy as sp

from nqm.theory import BETA, BUILTINS, LR, Hyperparameter, OptimizerSpec, derive, stationary_covariance
from nqm.theory.symbols import alpha, beta, h

DIGITS = 50


def _double_momentum(grad, theta, m1, m2, lr, beta):
    m1 = beta * m1 + grad(theta)
    m2 = beta * m2 + m1
    return theta - lr * m2, m1, m2


DOUBLE_MOMENTUM = OptimizerSpec.from_update(
    "double_momentum_lyapunov_test", _double_momentum, state=("theta", "m1", "m2"), hyperparameters=(LR, BETA)
)
SPECS = [*BUILTINS, *(s.precondition() for s in BUILTINS), DOUBLE_MOMENTUM, DOUBLE_MOMENTUM.precondition()]


def _point(symbols: set[sp.Symbol], rng: random.Random) -> dict[sp.Symbol, sp.Rational]:
    return {s: sp.Rational(rng.randint(5, 95), 100) for s in symbols}


def _mp_matrix(m: sp.Matrix, point: dict[sp.Symbol, sp.Rational]) -> mpmath.matrix:
    return mpmath.matrix([[mpmath.mpf(str(sp.N(e.xreplace(point), DIGITS + 10))) for e in row] for row in m.tolist()])


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_stationary_covariance_matches_the_vectorised_system(spec: OptimizerSpec) -> None:
    S = derive(spec).stationary_covariance
    n = spec.n
    rng = random.Random(7)
    symbols = spec.A.free_symbols | spec.b.free_symbols
    with mpmath.workdps(DIGITS):
        for _ in range(3):
            point = _point(symbols, rng)
            A, b = _mp_matrix(sp.Matrix(spec.A), point), _mp_matrix(sp.Matrix(spec.b), point)
            kron = mpmath.matrix(n * n, n * n)
            for i in range(n * n):
                for j in range(n * n):
                    kron[i, j] = (1 if i == j else 0) - A[i // n, j // n] * A[i % n, j % n]
            rhs = mpmath.matrix([b[i // n] * b[i % n] for i in range(n * n)])
            reference = mpmath.lu_solve(kron, rhs)
            ours = _mp_matrix(sp.Matrix(S), point)
            for i in range(n * n):
                value = ours[i // n, i % n]
                assert abs(value - reference[i]) <= mpmath.mpf(10) ** -40 * max(1, abs(reference[i])), (spec.name, point)


@pytest.mark.parametrize("spec", BUILTINS, ids=lambda s: s.name)
def test_stationary_covariance_equals_sympy_solve(spec: OptimizerSpec) -> None:
    n = spec.n
    syms = sp.symbols(f"q0:{n * n}")
    S = sp.Matrix(n, n, syms)
    A, b = sp.Matrix(spec.A), sp.Matrix(spec.b)
    (solution,) = sp.solve(list(S - A * S * A.T - b * b.T), syms, dict=True)
    ours = stationary_covariance(spec)
    assert all(sp.cancel(ours[i] - solution[s]) == 0 for i, s in enumerate(syms))


def test_placeholders_keep_the_spec_symbols_exact() -> None:
    # a square root and a symbolic power, neither of them preconditioning
    q = sp.Symbol("q", positive=True)
    Q = Hyperparameter("q", q, 0.0, 1.0, False, False)
    spec = OptimizerSpec(
        "root_power_lyapunov_test",
        A=sp.Matrix([[1 - alpha * sp.sqrt(h), -alpha * beta], [h**q, beta]]),
        b=sp.Matrix([-alpha * h ** (-q), 1]),
        init=sp.Matrix([1, 0]),
        out=sp.Matrix([[1, 0]]),
        hyperparameters=(LR, BETA, Q),
        state=("theta", "m"),
    )
    S = sp.Matrix(stationary_covariance(spec))
    A, b = sp.Matrix(spec.A), sp.Matrix(spec.b)
    residual = S - A * S * A.T - b * b.T
    rng = random.Random(3)
    for _ in range(3):
        point = _point({alpha, beta, h, q}, rng)
        assert all(abs(sp.N(e.xreplace(point), DIGITS)) < 1e-40 for e in residual)


def test_singular_lyapunov_equation_is_rejected() -> None:
    identity = OptimizerSpec(
        "identity_lyapunov_test", A=sp.Matrix([[1]]), b=sp.Matrix([-alpha]), init=sp.Matrix([1]),
        out=sp.Matrix([[1]]), hyperparameters=(LR,), state=("theta",),
    )
    with pytest.raises(ValueError, match="no unique generic solution"):
        stationary_covariance(identity)
    # singular only once the placeholder sqrt((h+1)^2) is substituted back (D = 0 identically)
    hidden = OptimizerSpec(
        "hidden_identity_lyapunov_test", A=sp.Matrix([[sp.sqrt(h**2 + 2 * h + 1) - h]]), b=sp.Matrix([-alpha]),
        init=sp.Matrix([1]), out=sp.Matrix([[1]]), hyperparameters=(LR,), state=("theta",),
    )
    assert sp.sqrt(sp.factor(h**2 + 2 * h + 1)) - h == 1  # h > 0
    with pytest.raises(ValueError, match="no unique generic solution"):
        stationary_covariance(hidden)
