r"""Mean paths that hold exactly one mode of a two-state transition.

The Chebyshev form writes the mean path as :math:`m(t) = c_tu_0 + s_tu_1` (:mod:`._chebyshev`);
when only one eigenvalue :math:`\lambda_j` enters :math:`m`, the other cancels through
:math:`u_1 = \pm\delta` in floating point, leaving an absolute floor of about
:math:`10^{-16}\lambda_o^t`. With a slow mode the output does not see (QHM at :math:`\nu = 0`,
which is SGD: :math:`\theta` never reads the buffer, whose mode :math:`\beta` can be within
:math:`10^{-9}` of 1), a noise-free direction (c = 0) then read :math:`10^{-33}` where the truth
was :math:`10^{-200}`.

This happens exactly when a structural zero of the spec's matrices decouples a state:

* **unobservable**: the output reads one state j (:math:`\mathrm{out} = o_je_j`) whose row of
  :math:`A` has no off-diagonal entry (:math:`D_{jk} = 0`); then
  :math:`\mathrm{out}A^t = \lambda_j^t\,\mathrm{out}` with :math:`\lambda_j = 1 + D_{jj}`, so
  :math:`m(t) = o_j\,\mathrm{init}_j\,\lambda_j^t` and the impulse response
  :math:`g(k) = o_jb_j\lambda_j^k`: the whole direction has one mode;
* **unreachable from the start**: the start excites one state j
  (:math:`\mathrm{init} = i_je_j`) whose column has no off-diagonal entry (:math:`D_{kj} = 0`);
  then :math:`A^t\mathrm{init} = \lambda_j^ti_je_j` and :math:`m(t) = \mathrm{out}_j\,i_j\,\lambda_j^t`
  (the noise part keeps both modes).

Both tests compare floats with exact zeros, which the generated forms produce for such
structure (e.g. :math:`-\alpha\beta\nu = -0` at :math:`\nu = 0`). The power is
:math:`\pm\exp(t\log|\lambda_j|)`, with :math:`\log|\lambda_j| = \mathrm{log1p}(D_{jj})` for
:math:`\lambda_j \ge 1/2` (an entry :math:`D_{jj}` such as :math:`-\alpha h` or :math:`\beta - 1`
carries :math:`\lambda_j - 1` to a few ulps) and below 1/2 the transition's own accurate writing of
that eigenvalue (:class:`._chebyshev.ChebyshevPowers` ``L1``/``L2``: from :math:`\nu = -\lambda - 1`
near -1, from :math:`\lambda` itself near 0, both exact from the inputs), never :math:`1 + D_{jj}`
there: near the stability edge (momentum with :math:`\beta = 0`, :math:`\alpha h \approx 2`,
:math:`\lambda_j = 1 - \alpha h \approx -1`) the last bit of the rounded product
:math:`\mathrm{fl}(\alpha h)` is all of :math:`|\lambda_j| - 1`, and :math:`\lambda_j^t` was off
by :math:`t\,2^{-52}` relative (1.2e-7 of the risk at :math:`t = 10^9`). The relative error of the
power is about :math:`|\ln\lambda_j^t|` ulps.
"""

from __future__ import annotations

import numpy as np

from ._chebyshev import ChebyshevPowers

__all__ = ["single_mode", "single_mode_mean"]


def single_mode(inv: dict, shape: tuple[int, ...], powers: ChebyshevPowers) -> dict[str, np.ndarray]:
    """Per-element data of two-state elements whose mean path has one mode (module docstring).

    Returns ``{}`` when no element qualifies, else ``single_mask`` (one mode in the mean path),
    ``single_bin`` (one mode in the whole direction: unobservable case), ``single_log``
    (:math:`\\log|\\lambda_j|`: ``log1p(D_jj)`` for :math:`1 + D_{jj} \\ge 1/2`, else from ``powers``,
    ``L1`` of the larger eigenvalue where :math:`D_{jj} \\ge D_{kk}` and ``L2`` otherwise; ``-inf``
    for :math:`\\lambda_j = 0`), ``single_negative`` (:math:`\\lambda_j < 0`) and ``single_amp``
    (:math:`\\mathrm{out}_j\\mathrm{init}_j`), all of ``shape``.
    """
    if int(inv["n"]) != 2:
        return {}
    D = [np.broadcast_to(np.asarray(x, dtype=float), shape) for x in inv["D"]]  # D00, D01, D10, D11
    out = [np.broadcast_to(np.asarray(x, dtype=float), shape) for x in inv["out"]]
    init = [np.broadcast_to(np.asarray(x, dtype=float), shape) for x in inv["init"]]
    mask = np.zeros(shape, dtype=bool)
    whole = np.zeros(shape, dtype=bool)
    larger = np.zeros(shape, dtype=bool)  # lambda_j is the larger eigenvalue (lambda_1)
    mu = np.zeros(shape)
    amp = np.zeros(shape)
    for j, k in ((0, 1), (1, 0)):
        row = (out[k] == 0) & (D[2 * j + k] == 0)
        col = (init[k] == 0) & (D[2 * k + j] == 0)
        new = (row | col) & ~mask
        larger = np.where(new, D[3 * j] >= D[3 * k], larger)
        mu = np.where(new, D[3 * j], mu)
        amp = np.where(new, out[j] * init[j], amp)
        whole |= new & row
        mask |= new
    if not mask.any():
        return {}
    near_one = mu >= -0.5
    log = np.where(larger, np.broadcast_to(powers.L1, shape), np.broadcast_to(powers.L2, shape))
    log = np.where(near_one, np.log1p(np.maximum(mu, -0.5)), log)
    lam = np.where(larger, np.broadcast_to(powers.lam1, shape), np.broadcast_to(powers.lam2, shape))
    negative = ~near_one & (lam < 0)
    return {"single_mask": mask, "single_bin": whole, "single_log": log, "single_negative": negative, "single_amp": amp}


def single_mode_mean(inv: dict, mean: np.ndarray, t: np.ndarray) -> np.ndarray:
    r"""``mean`` (a fresh array of the broadcast shape, updated in place) with the one-mode elements
    replaced by :math:`\mathrm{amp}\,\lambda_j^t` (:math:`0^0 = 1`); a no-op without any."""
    if "single_mask" not in inv:
        return mean
    mask = np.broadcast_to(inv["single_mask"], mean.shape)
    if not mask.any():
        return mean
    log = np.broadcast_to(inv["single_log"], mean.shape)[mask]
    negative = np.broadcast_to(inv["single_negative"], mean.shape)[mask]
    amp = np.broadcast_to(inv["single_amp"], mean.shape)[mask]
    tt = np.broadcast_to(np.asarray(t, dtype=float), mean.shape)[mask]
    with np.errstate(all="ignore"):
        power = np.exp(np.where(tt == 0, 0.0, tt * log))
    mean[mask] = amp * np.where(negative & (np.mod(tt, 2.0) == 1.0), -power, power)
    return mean
