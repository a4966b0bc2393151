r"""The one tie rule of every steps-to-target search.

A step t *reaches* the target :math:`\varepsilon` when its computed risk satisfies

.. math::

    \mathcal L(t) \le \varepsilon\,(1 + \tau),\qquad \tau = 2^{-40} \approx 9.1\times10^{-13}.

Why a tolerance: the same risk computed along two paths (the initial risk
:math:`\sum_i w_i\tfrac12h_iv_i` and the engine at t = 0 on the preconditioned, bin-merged
problem; Chebyshev and doubling; a value read from :func:`~nqm.numerics.expected_risk` and
passed back as a target) differs by rounding, measured up to about :math:`10^{-15}` relative
for the initial risk and bounded by :math:`2^8` ulps for the doubling engine
(:mod:`._doubling`). A target equal to a value the curve attains must count as reached, so
the tolerance sits above those rounding differences and far below the engine's
:math:`10^{-10}` exactness promise, which it therefore does not weaken. Used by
:func:`~nqm.numerics.steps_to_target`, :func:`~nqm.numerics.tune`, the sweeps, the schedule
step search, the Bayes-bound step count and the Monte-Carlo first hits.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["TIE_RTOL", "tie_threshold", "reaches"]

#: relative tolerance above the target within which a risk still reaches it
TIE_RTOL = 2.0**-40


def tie_threshold(target: float) -> float:
    r"""The largest risk that reaches ``target``: :math:`\varepsilon(1 + \tau)`."""
    return float(target) * (1.0 + TIE_RTOL)


def reaches(risk: ArrayLike, target: ArrayLike) -> np.ndarray:
    """Whether ``risk`` reaches ``target`` under the tie rule (elementwise for arrays; a numpy bool
    for scalars, typed as numpy types its comparisons)."""
    return np.asarray(risk) <= np.asarray(target) * (1.0 + TIE_RTOL)
