"""The ``nqm figures`` command: render the paper's NQM figures (and the extra ones) to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ._common import CONTEXT_SETTINGS, MAX_WORKERS, OutputPath, call, force_option, quiet_option, spec_file_option

__all__ = ["figures"]


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("out_dir", type=OutputPath("dir"))
@click.option("--only", "only", multiple=True, metavar="NAME",
              help="Render only this figure (repeatable): fig2, fig3a, fig3b, fig3c, fig4, fig11, fig13, fig14, fig15, "
                   "training_curves, steps_surface, critical_vs_power, network_vs_nqm.")
@click.option("--validation", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Output folder of 'nqm validate'; adds the network_vs_nqm figure.")
@click.option("--optimizer", "optimizers", multiple=True, metavar="NAME",
              help="Draw this optimizer (repeatable or comma-separated; built-in, entry point or --spec-file) in the "
                   "figures that take optimizers: fig13, critical_vs_power and (one optimizer) steps_surface.")
@click.option("--jobs", type=click.IntRange(min=0, max=MAX_WORKERS), default=None,
              help="Worker threads for the figures' sweeps, as --workers elsewhere (0 or 1: in this process; "
                   "default: automatic, a thread pool when the work is large).")
@force_option
@quiet_option
@spec_file_option
def figures(**options: Any) -> None:
    """Render the NQM figures to OUT_DIR: PNG (150 dpi), PDF, and the plotted data as CSV and JSON.

    By default every paper figure (Fig. 2, 3a, 3b, 3c, 4, 11, 13, 14, 15), the authors' notebook
    figure training_curves (SGD at fixed learning rates on the unbinned d = 5000 problem) and the
    extra ones (steps_surface, critical_vs_power), about a minute on 2 cores. The paper figures
    use the authors' problem, Problem.paper() (h_i = 1/i, d = 10^4, 100 bins, C = H on the binned
    curvatures); every caption and JSON file names its problem. The schedule figures use 7 batch
    sizes (see nqm.proofs.figure_3b for the full grid). network_vs_nqm needs --validation.
    """
    call("nqm.proofs.cli._figures_run:figures", **options)
