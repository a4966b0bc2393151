"""The canonical sympy symbols of the noisy quadratic model, and their LaTeX names.

Every derivation in :mod:`nqm.theory` is written in these symbols, so that results from
different specs can be compared symbolically and rendered in the paper's notation
(Zhang et al. 2019, Section 3): learning rate :math:`\\alpha`, momentum :math:`\\beta`,
EMA coefficient :math:`\\gamma`, curvature :math:`h_i`, gradient-noise variance :math:`c_i`,
batch size :math:`B`, preconditioning power :math:`p`.

User specs must build their matrices from these objects (``nqm.theory.symbols.h`` etc.): a
fresh ``sympy.Symbol("h")`` carries different assumptions and is a different symbol.
"""

from __future__ import annotations

import sympy as sp

#: curvature of one eigen-direction, :math:`h_i > 0`
h = sp.Symbol("h", positive=True)
#: per-example gradient-noise variance along that direction, :math:`c_i > 0`
c = sp.Symbol("c", positive=True)
#: mini-batch size :math:`B \ge 1`
B = sp.Symbol("B", positive=True)
#: learning rate :math:`\alpha > 0`
alpha = sp.Symbol("alpha", positive=True)
#: heavy-ball / Nesterov / QHM momentum :math:`\beta \in [0, 1)`
beta = sp.Symbol("beta", nonnegative=True)
#: EMA averaging coefficient :math:`\gamma \in [0, 1)`
gamma = sp.Symbol("gamma", nonnegative=True)
#: quasi-hyperbolic interpolation :math:`\nu \in [0, 1]`
nu = sp.Symbol("nu", nonnegative=True)
#: preconditioning power :math:`p \in [0, 1]`, :math:`P = H^p` (eq. 8)
p = sp.Symbol("p", nonnegative=True)
#: step counter
t = sp.Symbol("t", integer=True, nonnegative=True)
#: sequence index used inside sums and transforms
k = sp.Symbol("k", integer=True, nonnegative=True)
#: Z-transform variable
z = sp.Symbol("z")
#: unit-variance driving noise of one step, :math:`\xi` (its variance is scaled by c/B)
xi = sp.Symbol("xi", real=True)
#: initial iterate :math:`\theta_i(0)`
theta0 = sp.Symbol("theta_0", real=True)
#: second moment of the start, :math:`E[\theta_i(0)^2]`
v0 = sp.Symbol("v_0", positive=True)
#: roots of the momentum characteristic polynomial (Theorem 1, Theorem 2)
r1 = sp.Symbol("r_1")
r2 = sp.Symbol("r_2")
#: shorthand :math:`x = \alpha h` used by the authors' notebook (Appendices B and D)
x = sp.Symbol("x", positive=True)

#: problem symbols every spec may use besides its declared hyperparameters
PROBLEM_SYMBOLS: frozenset[sp.Symbol] = frozenset({h, c, B})

#: LaTeX names in the paper's notation (per eigen-direction i)
LATEX_NAMES: dict[sp.Symbol, str] = {
    h: "h_{i}",
    c: "c_{i}",
    B: "B",
    alpha: r"\alpha",
    beta: r"\beta",
    gamma: r"\gamma",
    nu: r"\nu",
    p: "p",
    t: "t",
    k: "k",
    z: "z",
    xi: r"\xi",
    theta0: r"\theta_{i}(0)",
    v0: r"\mathbb{E}\,\theta_{i}(0)^{2}",
    r1: "r_{1}",
    r2: "r_{2}",
    x: "x",
}

__all__ = [
    "B",
    "LATEX_NAMES",
    "PROBLEM_SYMBOLS",
    "alpha",
    "beta",
    "c",
    "gamma",
    "h",
    "k",
    "nu",
    "p",
    "r1",
    "r2",
    "t",
    "theta0",
    "v0",
    "x",
    "xi",
    "z",
]
