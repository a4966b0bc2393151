"""The body of ``nqm report`` (declared in :mod:`._report`)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import click

from nqm.proofs.report import build_report

from ._common import fail, progress_wrapper


def report(out_dir: Path, validation: str, force: bool, quiet: bool) -> None:
    """Build the report into ``out_dir`` (:func:`nqm.proofs.report.build_report`) and print its summary."""
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
