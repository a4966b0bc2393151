r"""The canonical sympy symbols of the noisy quadratic model, and their LaTeX names (public namespace).

``from nqm.theory.symbols import alpha, beta, h, c, B, t`` gives the very objects every
derivation is written in (Zhang et al. 2019, Section 3): curvature :math:`h_i`, gradient-noise
variance :math:`c_i`, batch size :math:`B`, learning rate :math:`\alpha`, momentum
:math:`\beta`, EMA coefficient :math:`\gamma`, QHM's :math:`\nu`, preconditioning power
:math:`p` (eq. 8), the step :math:`t` and index :math:`k`, the Z-transform variable :math:`z`,
the driving noise :math:`\xi`, the start :math:`\theta_i(0)` and its second moment
:math:`v_0`, the named roots :math:`r_1, r_2` (Theorems 1 and 2) and :math:`x = \alpha h`.
:data:`LATEX_NAMES` maps each to its name in the paper; :data:`PROBLEM_SYMBOLS` are the
problem symbols :math:`h, c, B` every spec may use besides its hyperparameters.

User specs must build their matrices from these objects: a fresh ``sympy.Symbol("h")``
carries different assumptions and is a different symbol.
"""

from __future__ import annotations

from ._symbols import (
    LATEX_NAMES,
    PROBLEM_SYMBOLS,
    B,
    alpha,
    beta,
    c,
    gamma,
    h,
    k,
    nu,
    p,
    r1,
    r2,
    t,
    theta0,
    v0,
    x,
    xi,
    z,
)

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
