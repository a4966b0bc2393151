"""``nqm report`` (:func:`nqm.proofs.build_report`): the folder, its links, and that every table
holds what the library computes when asked directly.

The module builds one report on :meth:`ReportConfig.quick` (small problem, few batch sizes,
cheap figures, no PyTorch) and checks it against independent recomputation; the slow test
builds the full default report.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import nqm.numerics as nn
from nqm.proofs import ReportConfig, build_report
from nqm.proofs.claims._catalogue import proof_catalogue
from nqm.proofs.cli._report import report as report_command
from nqm.proofs.report._math import derivation_sections, mathtext_source, render_sections, render_svg
from nqm.theory import BUILTINS, registered_names

BUILTIN_NAMES = tuple(spec.name for spec in BUILTINS)


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportConfig, tuple[str, ...]]:
    """The folder, its configuration, and the optimizers registered when it was built (other
    tests in this process may register more later)."""
    out = tmp_path_factory.mktemp("report")
    config = ReportConfig.quick()
    registered = tuple(registered_names())
    index = build_report(out, config=config, validation="none")
    assert index == out / "index.html"
    return out, config, registered


def _refs(page: Path) -> list[str]:
    text = page.read_text()
    refs = re.findall(r'(?:href|src)="([^"#]+)"', text)
    return [html.unescape(r) for r in refs if not r.startswith(("http:", "https:"))]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow  # shares the module fixture that builds the whole quick report
def test_every_link_of_every_page_resolves(quick):
    out, _, _ = quick
    pages = [out / "index.html", out / "derivations.html", out / "sweeps.html"]
    for page in pages:
        refs = _refs(page)
        assert refs, page
        for ref in refs:
            assert (page.parent / ref).is_file(), f"{page.name} links {ref}, which does not exist"
    index_refs = set(_refs(out / "index.html"))
    for name in ("derivations.html", "derivations.tex", "sweeps.html", "proofs/proofs.json", "proofs/proofs.tex",
                 "sweeps/critical_batch_sizes.csv", "monte_carlo/monte_carlo.csv", "monte_carlo/monte_carlo.png"):
        assert name in index_refs
    md = (out / "index.md").read_text()
    for ref in re.findall(r"\]\(([^)#]+)\)", md):
        assert (out / ref).is_file(), f"index.md links {ref}, which does not exist"


@pytest.mark.slow  # shares the module fixture that builds the whole quick report
def test_every_figure_is_written_and_shown(quick):
    out, config, _ = quick
    index = (out / "index.html").read_text()
    for name in config.figures:
        for ext in ("png", "pdf", "csv", "json"):
            assert (out / "figures" / f"{name}.{ext}").stat().st_size > 0
        assert f'src="figures/{name}.png"' in index


@pytest.mark.slow  # shares the module fixture that builds the whole quick report
def test_every_registered_optimizer_is_derived_with_source_and_drawing(quick):
    out, _, registered = quick
    page = (out / "derivations.html").read_text()
    tex = (out / "derivations.tex").read_text()
    sections = re.split(r"<h2 id=", page)
    assert set(BUILTIN_NAMES) <= set(registered)
    for name in registered:
        assert f"\\section{{Optimizer {name}}}".replace("_", r"\_") in tex  # LaTeX escapes the underscore
        section = next(s for s in sections if s.split(">", 1)[1].startswith(f"Optimizer {name}<"))
        for heading in ("Mean dynamics", "Second moments", "Second-moment eigenvalues", "Stability", "Closed forms"):
            assert heading in section, (name, heading)
        assert "\\det(zI - A) =" in html.unescape(section)
        drawings = re.findall(r'<img src="(math/[0-9a-f]+\.svg)"', section)
        assert drawings
        for ref in drawings:
            assert (out / ref).read_text().startswith("<svg")
    meta = json.loads((out / "report.json").read_text())
    assert meta["summary"]["derivations"]["mathtext_failures"] == 0
    assert 'class="failed"' not in page


@pytest.mark.slow  # shares the module fixture that builds the whole quick report
def test_proof_table_lists_every_proof_with_its_outcome(quick):
    out, config, _ = quick
    names = [p.name for p in proof_catalogue(config.proof_specs)]
    index = (out / "index.html").read_text()
    rows = {m[0]: m[1] for m in re.findall(r"<tr><td>([^<]+)</td><td>[^<]*</td><td><span class=\"\w+\">(\w+)</span>", index)}
    assert set(names) <= set(rows)
    assert {rows[n] for n in names} <= {"passed", "failed", "error"}
    records = json.loads((out / "proofs" / "proofs.json").read_text())["proofs"]
    assert [r["name"] for r in records] == names
    assert {r["name"]: r["outcome"] for r in records} == {n: rows[n] for n in names}


@pytest.mark.slow  # shares the module fixture that builds the whole quick report
def test_proof_claims_are_drawn_in_html_and_kept_as_latex_in_markdown(quick):
    out, config, _ = quick
    claims = [p.claim for p in proof_catalogue(config.proof_specs)]
    inline = [m for c in claims for m in re.findall(r"\$([^$]+)\$", c)]
    assert inline  # the catalogue's claims do carry inline LaTeX
    section = (out / "index.html").read_text().split('<h2 id="proofs">')[1].split("<h2 ")[0]
    drawn = re.findall(r'<img class="inline"[^>]* src="(proofs/math/[0-9a-f]+\.svg)" alt="([^"]*)"', section)
    assert {html.unescape(alt) for _, alt in drawn} == {mathtext_source(m) for m in inline}
    for ref, _ in drawn:
        assert (out / ref).read_text().startswith("<svg")
    assert "$" not in re.sub(r'alt="[^"]*"', "", section) and 'class="failed"' not in section
    md = (out / "index.md").read_text()
    assert all(c.replace("|", "\\|") in md for c in claims)


@pytest.mark.slow  # shares the module fixture that builds the whole quick report
def test_sweep_csvs_equal_a_fresh_sweep(quick):
    out, config, _ = quick
    crit = {(r["optimizer"], float(r["precond_power"])): r for r in _read_csv(out / "sweeps" / "critical_batch_sizes.csv")}
    for name, p in config.sweep_configs():
        fresh = nn.sweep(config.problem, name, batch_sizes=np.array(config.batch_sizes), target=config.target, precond_power=p)
        rows = _read_csv(out / "sweeps" / f"{name}_p{p:g}.csv")
        assert [float(r["batch_size"]) for r in rows] == list(fresh.batch_sizes)
        assert [float(r["steps"]) for r in rows] == list(fresh.steps)
        for hp in fresh.grid:
            assert np.array_equal([float(r[hp]) for r in rows], fresh.column(hp), equal_nan=True)
        assert [float(r["information_bound"]) for r in rows] == list(fresh.information_bounds)
        c = fresh.critical_batch_sizes()
        row = crit[(name, p)]
        assert float(row["B_crit_perfect_scaling_2x"]) == c.perfect_scaling_2x
        assert float(row["B_crit_mccandlish"]) == (c.mccandlish.B_crit if c.mccandlish else math.nan) or c.mccandlish is None


@pytest.mark.slow  # shares the module fixture that builds the whole quick report
def test_monte_carlo_table_matches_the_engine_and_a_fresh_simulation(quick):
    out, config, _ = quick
    rows = _read_csv(out / "monte_carlo" / "monte_carlo.csv")
    assert len(rows) == sum(len(s.steps) for s in config.monte_carlo)
    for s in config.monte_carlo:
        mine = [r for r in rows if r["setting"] == s.label]
        steps = np.array([int(r["step"]) for r in mine])
        assert tuple(steps) == s.steps
        opt = s.optimizer()
        exact = nn.expected_risk(config.problem, opt, batch_size=s.batch_size, steps=steps)
        np.testing.assert_array_equal([float(r["exact"]) for r in mine], exact)
        mc = nn.monte_carlo(config.problem, opt, batch_size=s.batch_size, steps=max(s.steps), runs=s.runs, seed=s.seed,
                            simulate="per-bin", executor="serial")
        np.testing.assert_array_equal([float(r["mc_mean"]) for r in mine], mc.mean[steps])
        var = nn.risk_variance(mc.simulated_problem, opt, batch_size=s.batch_size, steps=steps)
        z = (mc.mean[steps] - exact) / np.sqrt(var / s.runs)
        np.testing.assert_allclose([float(r["z"]) for r in mine], np.where(np.isfinite(z), z, 0.0), rtol=1e-12, atol=1e-12)
        for r in mine:
            dev = float(r["mc_mean"]) - float(r["exact"])
            assert (r["agrees"] == "True") == (-float(r["allowed_below"]) <= dev <= float(r["allowed_above"]))
            assert r["agrees"] == "True"


@pytest.mark.slow  # shares the module fixture that builds the whole quick report
def test_header_names_the_problem_command_versions_and_timings(quick):
    out, config, _ = quick
    index = (out / "index.html").read_text()
    assert html.escape(config.problem.name) in index
    assert "build_report(" in index
    meta = json.loads((out / "report.json").read_text())
    assert meta["validation"] == "none"
    assert {"numpy", "sympy", "matplotlib", "nqm-toolkit"} <= set(meta["versions"])
    for section in ("derivations", "proofs", "figures", "sweeps", "monte_carlo"):
        assert meta["sections"][section]["finished_after_s"] > 0
    assert "nqm report --validation reduced" in index  # how to enable what was skipped


def test_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        build_report(tmp_path, validation="none")
    result = CliRunner().invoke(report_command, ["--out", str(tmp_path), "--validation", "none"])
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:") and "--force" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_bad_arguments_are_value_errors(tmp_path):
    with pytest.raises(ValueError, match="validation"):
        build_report(tmp_path / "a", validation="everything")
    with pytest.raises(ValueError, match="sections"):
        build_report(tmp_path / "b", sections=("derivations", "nonsense"))
    result = CliRunner().invoke(report_command, ["--out", str(tmp_path / "c"), "--validation", "everything"])
    assert result.exit_code == 2


def test_sections_beside_the_sweeps_on_processes_write_what_serial_writes(tmp_path):
    """With a process pool the sections' tasks run on it from a second thread while this one sweeps
    (:func:`~nqm.proofs.report._build._run`); the files are those of the serial run, byte for byte."""
    config = ReportConfig.quick()
    written = {}
    for executor in ("serial", "processes"):
        out = tmp_path / executor
        build_report(out, config=config, sections=("sweeps", "monte_carlo"), validation="none", executor=executor)
        written[executor] = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.csv"))}
    assert len(written["serial"]) == 1 + len(config.sweep_configs()) + 1  # critical batch sizes, each sweep, Monte Carlo
    assert written["processes"] == written["serial"]


def test_a_failing_section_on_processes_fails_the_report(tmp_path):
    """An error of a task run from the second thread reaches the caller (after the sweeps)."""
    config = ReportConfig.quick()
    with pytest.raises(KeyError, match="no optimizer named 'unknown'"):
        build_report(tmp_path / "r", config=replace(config, proof_specs=("unknown",)), sections=("sweeps", "proofs"),
                     validation="none", executor="processes")


# ---------------------------------------------------------------------- the formula helpers
@pytest.mark.parametrize("tex", [r"\frac12 h_i", r"\sqrt\beta", r"\tfrac{1}{2}", r"\sum_{k\ge0} g_k^2", r"x\big|_{p}", r"\textstyle\sum_k"])
def test_rewrites_make_mathtext_draw_what_it_could_not(tex):
    assert render_svg(tex) is None
    assert render_svg(mathtext_source(tex)) is not None


def _document_rows(document: str) -> list[list[str]]:
    """Every display line of the LaTeX document as its rows on the page, the first with its label
    (``label = rhs`` or ``label rhs``, as the report draws it), continuation rows without their indent."""
    out: list[list[str]] = []
    for block in re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", document, re.S):
        for line in block.split(" \\\\\n"):
            if line.startswith("&\\qquad "):
                out[-1].append(line.removeprefix("&\\qquad "))
            else:
                out.append([re.sub(r" &(=?) ", lambda m: " = " if m.group(1) else " ", line, count=1)])
    return out


@pytest.mark.slow  # several seconds: kept out of the quick run's 3-minute budget
def test_the_report_breaks_formulas_where_the_latex_document_does():
    """The derivations page draws each formula in the rows of derivations.tex (one line-breaking
    rule for both), every row drawn by mathtext; momentum's exact risk takes several rows."""
    document, sections = derivation_sections(["momentum"])
    rendered = [f for _, blocks in render_sections(sections) for b in blocks for f in b.formulas if b.heading != "Second-moment eigenvalues"]
    rows = _document_rows(document)
    assert len(rendered) == len(rows)
    drawn = [(f.lines, r) for f, r in zip(rendered, rows) if f.matrix is None]
    for lines, page in drawn:
        assert [p.text for p in lines] == [mathtext_source(page[0])] + [mathtext_source("\\quad " + r) for r in page[1:]]
        assert all(p.drawing is not None for p in lines)
    assert max(len(lines) for lines, _ in drawn) >= 3


@pytest.mark.slow
@pytest.mark.timeout(1500)  # minutes beside a busy xdist worker
def test_full_default_report(tmp_path):
    """``nqm report`` on the paper's problem, end to end, as a user runs it: in a fresh interpreter
    (this worker's registry holds the specs that other tests registered, and the report derives and
    proves every registered optimizer: in-process, their symbolic proofs took most of half an hour).
    Its PyTorch section runs the quick check (linear regression against both noise models): the
    network validation that the default report runs has its own tests (tests/networks/)."""
    from nqm.proofs import DEFAULT_FIGURES

    out = tmp_path / "r"
    run = subprocess.run([sys.executable, "-c", "from nqm.proofs.cli._main import main; main()", "report", "--out", str(out),
                          "--validation", "quick", "--quiet"], capture_output=True, text=True, timeout=1400)
    assert run.returncode == 0, run.stderr[-3000:]
    index = out / "index.html"
    for name in DEFAULT_FIGURES:
        assert (out / "figures" / f"{name}.png").is_file()
    for ref in _refs(index):
        assert (out / ref).is_file()
    assert len(list((out / "sweeps").glob("*_p*.csv"))) == 12
    meta = json.loads((out / "report.json").read_text())
    assert meta["summary"]["proofs"]["failed"] == []
    assert meta["summary"]["monte_carlo"]["disagree"] == 0
    assert meta["summary"]["derivations"]["mathtext_failures"] == 0


@pytest.mark.slow  # shares the module fixture that builds the whole quick report
def test_training_curves_have_their_own_section(quick):
    out, config, _ = quick
    assert "training_curves" in config.figures
    index, md = (out / "index.html").read_text(), (out / "index.md").read_text()
    assert '<h3 id="figure-training_curves">' in index and "### The authors' training curves" in md
    assert index.index('id="figure-training_curves"') < index.index('src="figures/training_curves.png"')
    doc = json.loads((out / "figures" / "training_curves.json").read_text())
    assert doc["problem"] == nn.Problem.paper(binned=False, d=5000).name and doc["problem"] in doc["caption"]


def test_header_states_the_authors_problem(tmp_path):
    paper = nn.Problem.paper()
    index = build_report(tmp_path / "r", config=ReportConfig(problem=paper, monte_carlo=()), sections=("monte_carlo",),
                         validation="none")
    text = index.read_text()
    assert html.escape(paper.name) in text and "C = H on the bins" in paper.name
    assert f"<td>100 ({np.count_nonzero(paper.weights)} non-empty)</td>" in text
