"""The ``nqm`` command line: the click group ``main`` (console script ``nqm``) and its subcommands.

Conventions (:mod:`._common`): defaults are the paper's problem; ``--help``/``-h`` on every
subcommand; usage errors are one line ``error: ...`` with exit status 2; work longer than about
2 s shows a progress bar on standard error (``--quiet`` silences it); output files are never
silently overwritten (``--force``) and are written whole or not at all; output paths (:class:`._common.OutputPath`)
and sizes (list options, grids, Monte-Carlo work, workers) are checked before any work;
``--spec-file FILE`` registers user optimizers (entry points in the ``nqm.optimizers`` group are
registered automatically); every subcommand that takes an optimizer takes ``--optimizer NAME``
(``derive`` and ``conformance`` also take it as a positional NAME, the older form); ``nqm --version``
prints the package version.
"""

from __future__ import annotations

import sys

import click

from ._common import CONTEXT_SETTINGS, NqmGroup, spec_file_option

#: every subcommand: name -> "module:command" (loaded when used; ``nqm --help`` loads them all)
COMMANDS: dict[str, str] = {
    "conformance": "nqm.proofs.cli._conformance:conformance",
    "critical": "nqm.proofs.cli._sweep:critical",
    "derive": "nqm.proofs.cli._derive:derive",
    "figures": "nqm.proofs.cli._figures:figures",
    "latex": "nqm.proofs.cli._latex:latex",
    "montecarlo": "nqm.proofs.cli._montecarlo:montecarlo",
    "proofs": "nqm.proofs.cli._proofs:proofs",
    "report": "nqm.proofs.cli._report:report",
    "schedule": "nqm.proofs.cli._schedule:schedule",
    "steps": "nqm.proofs.cli._sweep:steps",
    "sweep": "nqm.proofs.cli._sweep:sweep",
    "validate": "nqm.proofs.cli._validate:validate",
    "verify": "nqm.proofs.cli._proofs:verify",
}


@click.group(cls=NqmGroup, lazy_commands=COMMANDS, context_settings=CONTEXT_SETTINGS, epilog="""\b
Examples:
  nqm derive --optimizer momentum --latex
  nqm sweep --optimizer momentum --precond-power 0.5 --batch-sizes 4:1048576 --target 0.01
  nqm steps --optimizer momentum --hp lr=0.1 --hp beta=0.9 --batch-size 64
  nqm --spec-file my_opt.py derive --optimizer lookahead
Run 'nqm COMMAND --help' for a command's options.
""")
@click.version_option(package_name="nqm-toolkit", prog_name="nqm", message="%(prog)s %(version)s")
@spec_file_option
def main() -> None:
    """nqm-toolkit: theory, exact numerics and checks for the noisy quadratic model (Zhang et al. 2019)."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
