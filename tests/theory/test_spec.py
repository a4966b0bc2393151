"""Optimizer specs: construction from update code, validation, transformations."""

import pytest
import sympy as sp

from nqm.theory import BETA, LR, Hyperparameter, OptimizerSpec, SpecError, ema, momentum, sgd
from nqm.theory.symbols import alpha, beta, h


def test_momentum_matrices_follow_from_eq5_update() -> None:
    # eq. 5: m <- beta m + g(theta); theta <- theta - alpha m, written out by hand here
    assert momentum.A == sp.Matrix([[1 - alpha * h, -alpha * beta], [h, beta]])
    assert momentum.b == sp.Matrix([-alpha, 1])
    assert momentum.init == sp.Matrix([1, 0]) and momentum.out == sp.Matrix([[1, 0]])


def test_ema_evaluates_the_average_and_starts_it_at_theta0() -> None:
    assert ema.out == sp.Matrix([[0, 1]]) and ema.init == sp.Matrix([1, 1])


def test_user_variant_in_a_few_lines() -> None:
    def lookahead(grad, theta, slow, lr, beta):
        fast = theta - lr * grad(theta)
        return fast, beta * slow + (1 - beta) * fast

    spec = OptimizerSpec.from_update(
        "lookahead_test", lookahead, state=("theta", "slow"), hyperparameters=(LR, BETA), init=(1, 1), out=(0, 1)
    )
    assert spec.n == 2 and spec.b[0] == -alpha


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(A=sp.Matrix([[1, 0]]), b=sp.Matrix([1]), init=sp.Matrix([1]), out=sp.Matrix([[1]])), "square"),
        (dict(A=sp.Matrix([[1 - alpha * h]]), b=sp.Matrix([1, 2]), init=sp.Matrix([1]), out=sp.Matrix([[1]])), "b has shape"),
        (dict(A=sp.Matrix([[1 - alpha * h]]), b=sp.Matrix([-alpha]), init=sp.Matrix([1]), out=sp.Matrix([[1, 0]])), "output row"),
        (dict(A=sp.Matrix([[1 - sp.Symbol("eta") * h]]), b=sp.Matrix([-alpha]), init=sp.Matrix([1]), out=sp.Matrix([[1]])), "undeclared symbol"),
        (dict(A=sp.Matrix([[1 - alpha * sp.Symbol("h")]]), b=sp.Matrix([-alpha]), init=sp.Matrix([1]), out=sp.Matrix([[1]])), "undeclared symbol"),
    ],
)
def test_invalid_specs_are_rejected_with_a_clear_error(kwargs, message) -> None:
    with pytest.raises(SpecError, match=message):
        OptimizerSpec(name="bad", hyperparameters=(LR,), state=("theta",) * kwargs["A"].rows, **kwargs)


def test_nonlinear_update_is_rejected() -> None:
    with pytest.raises(SpecError, match="not linear"):
        OptimizerSpec.from_update("sq", lambda g, th, lr: (th - lr * g(th) ** 2,), state=("theta",), hyperparameters=(LR,))


def test_preconditioning_rescales_every_gradient_query() -> None:
    pre = sgd.precondition()
    p = sp.Symbol("p", nonnegative=True)
    assert sp.simplify(pre.A[0] - (1 - alpha * h ** (1 - p))) == 0
    assert sp.simplify(pre.b[0] + alpha * h ** (-p)) == 0


def test_fixing_beta_zero_leaves_sgd_dynamics_on_theta() -> None:
    fixed = momentum.fix(beta=0)
    assert fixed.A[0, 0] == sgd.A[0, 0] and fixed.A[0, 1] == 0 and fixed.b[0] == sgd.b[0]


@pytest.mark.parametrize("default", ["abc", float("nan"), float("inf"), True, 2.0, -0.1])
def test_a_hyperparameter_default_must_be_a_number_in_its_range(default: object) -> None:
    """A default that is not a finite number in the hyperparameter's interval is refused when the
    spec is written (a string passed sympy's containment test and failed later, inside tuning)."""
    with pytest.raises(ValueError, match=r"the default of nu must be a number in \[0, 1\]"):
        Hyperparameter("nu", sp.Symbol("nu_test"), 0.0, 1.0, True, True, default=default)
    assert Hyperparameter("nu", sp.Symbol("nu_test"), 0.0, 1.0, True, True, default=0.7).default == 0.7
