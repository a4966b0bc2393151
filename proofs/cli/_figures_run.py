"""The body of ``nqm figures`` (declared in :mod:`._figures`)."""

from __future__ import annotations

from pathlib import Path

import click

from nqm.proofs.figures import DEFAULT_FIGURES, FIGURES, figure_paths, make_figures

from ._common import fail, progress_wrapper, refuse_overwrite
from ._runtime import executor, optimizer_names


def figures(out_dir: Path, only: tuple[str, ...], validation: Path | None, optimizers: tuple[str, ...], jobs: int | None,
            force: bool, quiet: bool) -> None:
    """Render the figures ``only`` (default: :data:`~nqm.proofs.figures.DEFAULT_FIGURES`, plus
    network_vs_nqm with ``validation``) to ``out_dir`` with :func:`~nqm.proofs.figures.make_figures`."""
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
