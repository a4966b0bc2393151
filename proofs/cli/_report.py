"""``nqm report``: the main job — one folder with every derivation, proof, figure, sweep and check."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

from ._common import CONTEXT_SETTINGS, OutputPath, fail, force_option, progress_wrapper, quiet_option, spec_file_option
from .._limits import VALIDATION_MODES

__all__ = ["report"]


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option("--out", "out_dir", type=OutputPath("dir"), default=Path("nqm-report"),
              show_default=True, help="The report folder (refused if it exists and is not empty, unless --force).")
@click.option("--validation", type=click.Choice(VALIDATION_MODES), default="auto", show_default=True,
              help="PyTorch check: quick = linear regression against both noise models (seconds); reduced / full = "
                   "the network validation, reduced (about a minute) or full (minutes); auto = reduced if PyTorch "
                   "is installed, else none.")
@force_option
@quiet_option
@spec_file_option
def report(out_dir: Path, validation: str, force: bool, quiet: bool) -> None:
    """Build the report on the paper's problem: derivations (LaTeX and rendered), the proof table,
    every figure, the batch-size sweeps with critical batch sizes, the Monte-Carlo agreement and
    the PyTorch validation, linked from OUT/index.html (and index.md).

    The default report takes about a minute on two cores, plus about two minutes for the reduced network
    validation when PyTorch is installed.
    """
    from nqm.proofs.report import build_report

    if out_dir.exists() and not out_dir.is_dir():
        fail(f"--out {out_dir} is a file; give a folder")
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        fail(f"{out_dir} exists and is not empty; pass --force to write into it")
    command = ["nqm", "report", "--out", str(out_dir), "--validation", validation] + ["--force"] * force + ["--quiet"] * quiet
    try:
        # processes: the symbolic sections hold the GIL, and this command's main module is guarded
        index = build_report(out_dir, force=force, validation=validation, executor="processes",
                             progress=progress_wrapper("nqm report", quiet, label=str),
                             command=" ".join(shlex.quote(a) for a in command))
    except ImportError as exc:
        fail(str(exc))
    meta = json.loads((out_dir / "report.json").read_text())
    summary = meta["summary"]
    lines = [f"wrote {index} in {meta['total_seconds']:.0f} s (validation: {meta['validation']})"]
    if "proofs" in summary:
        p = summary["proofs"]
        lines.append(f"  proofs: {p['proofs'] - len(p['failed'])}/{p['proofs']} passed")
    if "monte_carlo" in summary:
        m = summary["monte_carlo"]
        lines.append(f"  Monte Carlo: {m['comparisons'] - m['disagree']}/{m['comparisons']} comparisons within tolerance")
    if "derivations" in summary:
        lines.append(f"  derivations: {summary['derivations']['formulas']} formulas, "
                     f"{summary['derivations']['mathtext_failures']} not drawable by mathtext")
    click.echo("\n".join(lines))
