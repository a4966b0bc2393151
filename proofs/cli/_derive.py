r"""The ``nqm derive`` command: every derived quantity of one optimizer, as text, LaTeX or JSON.

The quantities are those of :class:`nqm.theory.Derivation` and its Z-transform closed forms
(:mod:`nqm.theory._closed_form`): the state-space form, the characteristic polynomial (eq. 22)
and its roots, the second-moment system (Appendices B and D) and its eigenvalues, the
stationary covariance and risk, Jury's stability conditions and region, the effective learning
rates (Section 3.2, eq. 7) and the slow eigenvalue in :math:`x = \alpha h`, and the closed
forms of the mean path, impulse response and noise sums (Appendix C, Theorems 1 and 2).
LaTeX comes from :func:`nqm.theory.to_latex` (the paper's notation; each formula parses
back); ``nqm latex`` writes the complete document with the paper's statements re-derived.
"""

from __future__ import annotations

from typing import Any

import click

from ._common import CONTEXT_SETTINGS, OutputPath, call, force_option, quiet_option, spec_file_option

__all__ = ["derive"]


@click.command("derive", context_settings=CONTEXT_SETTINGS, epilog="""\b
Examples:
  nqm derive --optimizer momentum
  nqm derive --optimizer momentum --latex --output momentum.tex
  nqm derive --optimizer qhm --precondition --json
  nqm --spec-file my_opt.py derive --optimizer lookahead --json

\b
The positional form 'nqm derive momentum' is the same as --optimizer momentum.
""")
@click.argument("positional", metavar="[NAME]", required=False)
@click.option("--optimizer", "name", metavar="NAME", default=None,
              help="The optimizer to derive (built-in, entry point or --spec-file); or give it as NAME.")
@click.option("--latex", is_flag=True, help="Print LaTeX (amsmath align* blocks, the paper's notation).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: per quantity its title, text (sympy) and LaTeX.")
@click.option("--precondition", is_flag=True, help="Derive the method with the preconditioner P = H^p (eqs. 8-9; adds p).")
@click.option("--output", "-o", type=OutputPath(), default=None,
              help="Write to FILE instead of standard output.")
@force_option
@quiet_option
@spec_file_option
def derive(**options: Any) -> None:
    """Derive everything about the optimizer NAME (--optimizer NAME; built-in or registered) symbolically.

    Characteristic polynomial and eigenvalues, second-moment dynamics and their eigenvalues,
    stationary covariance and risk, stability conditions and region, effective learning rates and
    the small-step series, and the Z-transform closed forms (mean path, noise sums, exact risk).
    Output is readable text by default, or --latex / --json.
    """
    call("nqm.proofs.cli._derive_run:derive", **options)
