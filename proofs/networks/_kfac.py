r"""K-FAC for a batch of independent tanh MLPs (Martens & Grosse 2015; the paper's Appendix A).

For a layer :math:`z = a\,W + b` (row-vector layout, :math:`\hat W = [W; b]` of shape
:math:`(n_{\rm in}+1)\times n_{\rm out}`, :math:`\bar a = [a, 1]`) K-FAC approximates the layer's
block of the Fisher by :math:`A\otimes G` with

.. math::

    A = \tfrac1B\sum_n \bar a_n\bar a_n^\top,\qquad
    G = \tfrac1B\sum_n \mathbb{E}_{y\sim p(\cdot\mid x_n)}\bigl[\delta_n\delta_n^\top\bigr],

:math:`\delta_n = \partial\ell_n/\partial z` for one example's cross-entropy. The expectation over
the model's labels is taken exactly (the type-2 Fisher, which equals the Gauss–Newton
matrix for softmax cross-entropy): at the logits it is :math:`\Lambda = \operatorname{diag}(p)
- pp^\top = R^\top R` with :math:`R = \operatorname{diag}(\sqrt p) - \sqrt p\,p^\top`, and the ten
rows of R are back-propagated like gradients. The update preconditions each layer's
gradient with Tikhonov-damped factors, :math:`(A+\sqrt\lambda I)^{-1}\nabla_{\hat W}
(G+\sqrt\lambda I)^{-1}`, before heavy-ball momentum (as in the paper: preconditioning is
applied before momentum). Factors are exponential moving averages over steps.

Every tensor carries a leading trial axis K: the K networks are independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["fisher_factors", "precondition", "KFACFactors"]


def _augment(a: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, torch.ones_like(a[..., :1])], dim=-1)


def fisher_factors(
    activations: list[torch.Tensor], preactivations: list[torch.Tensor], weights: list[torch.Tensor]
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    r"""Per-layer Kronecker factors :math:`(A, G)` of a tanh MLP (see the module docstring).

    ``activations[l]``: layer l's input :math:`a_l` ``[K, B, n_in]``; ``preactivations[l]``:
    its output :math:`z_l` ``[K, B, n_out]`` (the last are the logits); ``weights[l]``:
    :math:`W_l` ``[K, n_in, n_out]``. Returns ``A [K, n_in+1, n_in+1]``, ``G [K, n_out, n_out]``.
    """
    batch = activations[0].shape[1]
    with torch.no_grad():
        p = torch.softmax(preactivations[-1], dim=-1)  # [K, B, C]
        sq = p.sqrt()
        # rows of R = diag(sqrt p) - sqrt(p) p^T: [K, B, C (rows), C]
        rows = torch.diag_embed(sq) - sq[..., :, None] * p[..., None, :]
        factors: list[tuple[torch.Tensor, torch.Tensor]] = []
        for layer in range(len(weights) - 1, -1, -1):
            a = _augment(activations[layer])
            A = torch.einsum("kbi,kbj->kij", a, a) / batch
            G = torch.einsum("kbri,kbrj->kij", rows, rows) / batch
            factors.append((A, G))
            if layer:
                back = torch.einsum("kbro,kio->kbri", rows, weights[layer])
                rows = back * (1.0 - torch.tanh(preactivations[layer - 1]) ** 2)[:, :, None, :]
        return factors[::-1]


@dataclass
class KFACFactors:
    """Exponential moving averages of the factors, ``decay`` per step (first step: the batch's)."""

    decay: float
    factors: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def update(self, new: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Fold one step's factors into the averages."""
        if self.factors is None:
            self.factors = [(A.clone(), G.clone()) for A, G in new]
            return
        self.factors = [
            (self.decay * A0 + (1 - self.decay) * A1, self.decay * G0 + (1 - self.decay) * G1)
            for (A0, G0), (A1, G1) in zip(self.factors, new)
        ]


def precondition(
    grad_weights: list[torch.Tensor],
    grad_biases: list[torch.Tensor],
    factors: list[tuple[torch.Tensor, torch.Tensor]],
    damping: torch.Tensor,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    r""":math:`(A+\sqrt\lambda I)^{-1}\,[\nabla W; \nabla b]\,(G+\sqrt\lambda I)^{-1}` per layer and trial.

    ``damping`` is :math:`\lambda` per trial, shape ``[K]``; biases have shape ``[K, 1, n_out]``.
    A diverged trial (non-finite factors) yields non-finite directions instead of an error.
    """
    root = damping.sqrt()[:, None, None]
    out_w, out_b = [], []
    for gw, gb, (A, G) in zip(grad_weights, grad_biases, factors):
        grad = torch.cat([gw, gb], dim=1)  # [K, n_in+1, n_out]
        eye_a = torch.eye(A.shape[-1], dtype=A.dtype)
        eye_g = torch.eye(G.shape[-1], dtype=G.dtype)
        left = torch.cholesky_solve(grad, torch.linalg.cholesky_ex(A + root * eye_a)[0])
        both = torch.cholesky_solve(left.transpose(1, 2), torch.linalg.cholesky_ex(G + root * eye_g)[0]).transpose(1, 2)
        out_w.append(both[:, :-1])
        out_b.append(both[:, -1:])
    return out_w, out_b
