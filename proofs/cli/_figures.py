"""The ``nqm figures`` command: render the paper's NQM figures (and the extra ones) to a folder."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import (
    CONTEXT_SETTINGS,
    MAX_WORKERS,
    OutputPath,
    fail,
    force_option,
    progress_wrapper,
    quiet_option,
    refuse_overwrite,
    spec_file_option,
)
from ._values import executor, optimizer_names

__all__ = ["figures"]


def _names() -> list[str]:
    from nqm.proofs.figures import FIGURES

    return sorted(FIGURES)


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
def figures(out_dir: Path, only: tuple[str, ...], validation: Path | None, optimizers: tuple[str, ...], jobs: int | None,
            force: bool, quiet: bool) -> None:
    """Render the NQM figures to OUT_DIR: PNG (150 dpi), PDF, and the plotted data as CSV and JSON.

    By default every paper figure (Fig. 2, 3a, 3b, 3c, 4, 11, 13, 14, 15), the authors' notebook
    figure training_curves (SGD at fixed learning rates on the unbinned d = 5000 problem) and the
    extra ones (steps_surface, critical_vs_power), about a minute on 2 cores. The paper figures
    use the authors' problem, Problem.paper() (h_i = 1/i, d = 10^4, 100 bins, C = H on the binned
    curvatures); every caption and JSON file names its problem. The schedule figures use 7 batch
    sizes (see nqm.proofs.figure_3b for the full grid). network_vs_nqm needs --validation.
    """
    from nqm.proofs.figures import DEFAULT_FIGURES, FIGURES, figure_paths, make_figures

    chosen = optimizer_names(optimizers) or None

    unknown = [n for n in only if n not in FIGURES]
    if unknown:
        fail(f"--only must name figures from {', '.join(sorted(FIGURES))}; got {unknown[0]!r}")
    names = list(dict.fromkeys(only)) if only else DEFAULT_FIGURES + (["network_vs_nqm"] if validation else [])
    if "network_vs_nqm" in names and validation is None:
        fail("--only network_vs_nqm needs --validation DIR (the output folder of 'nqm validate')")
    refuse_overwrite([p for n in names for p in figure_paths(n, out_dir)], force)

    def saved(result, paths: list[Path]) -> None:
        click.echo(f"{result.name:<18} {result.seconds:6.1f} s  " + ", ".join(str(p) for p in paths))

    with executor(jobs) as where:
        make_figures(out_dir, names, force=True, executor=where, validation=validation,
                     progress=progress_wrapper("sweeps", quiet), on_saved=saved, optimizers=chosen)
    click.echo(f"wrote {len(names)} figures to {out_dir}")
