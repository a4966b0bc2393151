r"""The catalogue of named proofs: the paper's claims (Zhang et al. 2019) and the generic proofs.

One module per claim family, in the manner of PEPit's catalogue (one place per result, its
derived value beside the paper's, with a reference):

* :mod:`._sgd` — claim 1, SGD (Section 3.1, eqs. 2–4);
* :mod:`._momentum` — claim 2, momentum (Section 3.2, Theorem 1, eq. 7, Appendices B–C);
* :mod:`._preconditioning` — claim 3, preconditioning (Section 3.3, eqs. 8–10);
* :mod:`._ema` — claim 4, EMA (Section 3.4, Theorem 2, Appendix D);
* :mod:`._information` — claim 5, the information bound and the tuned optima (Section 3.6);
* :mod:`._scaling` — claim 6, linear learning-rate scaling (Section 3.7, Fig. 14);
* :mod:`._schedules` — beyond the paper: steps against examples, McCandlish's relation, batch-size
  ramps and schedules.

Each entry is one :class:`~nqm.proofs.claims._prover.Proof` that holds the paper's
statements it rests on as objects (:class:`~nqm.theory.Statement`: the paper's formula, the
object derived from the specs, the comparison), together with its method, reference,
assumptions, domain and the further steps no statement covers. The statements themselves are
defined in :mod:`nqm.theory._paper`, because theory's LaTeX document prints them and theory
may not import the proofs; the entry holds the very objects that document prints, not names.

:func:`proof_catalogue` assembles the entries and the generic proofs of
:mod:`._prover`; :func:`run_all` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from nqm.theory import OptimizerSpec, registered_specs

from ..conformance import resolve_spec
from . import _ema, _information, _momentum, _preconditioning, _scaling, _schedules, _sgd
from ._information import information_bound_proof
from ._prover import Proof, generic_proofs
from ._results import ProofReport, ProofResult

__all__ = ["paper_proofs", "proof_catalogue", "run_all"]

#: the claim families in the catalogue's order (claims 1-6, then time-varying training beyond the paper)
FAMILIES = (_sgd, _momentum, _preconditioning, _ema, _information, _scaling, _schedules)


def paper_proofs() -> list[Proof]:
    """The paper's claims 1–6, in the issue's order (the per-optimizer information bounds excepted)."""
    return [proof for family in FAMILIES for proof in family.claims()]


def proof_catalogue(
    specs: Iterable[OptimizerSpec | str] | None = None, *, registered: Iterable[OptimizerSpec] | None = None
) -> list[Proof]:
    """Every proof to run for ``specs`` (see :func:`~nqm.proofs.run_all`), paper claims first.

    ``registered``: the specs that count as registered (default: this process's registry), i.e.
    those that get the paper's claims about them and the tuned information bound; a caller that
    runs the catalogue in another process passes its own registry's specs (objects travel, names
    would be looked up in the worker's registry).
    """
    chosen = list(registered_specs()) if specs is None else [resolve_spec(s) for s in specs]
    known = list(registered_specs() if registered is None else registered)
    names = {s.name for s in chosen if s in known}
    out = [p for p in paper_proofs() if set(p.optimizers) <= names]
    for spec in chosen:
        if spec in known:
            out.append(information_bound_proof(spec))
        out.extend(generic_proofs(spec))
    return out


def run_all(
    specs: Iterable[OptimizerSpec | str] | None = None,
    *,
    registered: Iterable[OptimizerSpec] | None = None,
    progress: Callable[[ProofResult], None] | None = None,
) -> ProofReport:
    """Run every proof of the catalogue and return one :class:`ProofResult` per proof, as a
    :class:`~nqm.proofs.ProofReport` (a list with ``to_pandas()`` and an HTML table for Jupyter).

    ``specs=None``: the paper's claims and, for every registered optimizer, the information
    bound at its tuned optimum and the generic proofs. Given specs (objects or registered
    names): the paper's claims about those optimizers only, the generic proofs on each, and the
    tuned information bound for each registered one (``registered``: :func:`proof_catalogue`).
    ``progress`` is called after each proof.
    """
    results = ProofReport()
    for proof in proof_catalogue(specs, registered=registered):
        results.append(proof.run())
        if progress is not None:
            progress(results[-1])
    return results
