"""The figures' style file, figures shown inline in Jupyter, CSV integers in figure data, and
plain progress lines when standard error is not a terminal (CI logs, ``!nqm report``)."""

from __future__ import annotations

import base64
import math
import re
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import matplotlib.style
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

import nqm.numerics as nn
import nqm.proofs as proofs
from nqm.proofs.cli import _common as _cli_common
from nqm.proofs.figures import _core as _figures
from nqm.proofs.cli._main import main
from nqm.proofs.cli._common import progress_wrapper, status
from nqm.proofs.report._build import build_report, ReportConfig
from nqm.proofs.report._tasks import MonteCarloSetting

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------- style
def test_the_style_file_loads_with_matplotlib_and_ships_as_package_data() -> None:
    assert Path(proofs.STYLE).name == "nqm.mplstyle" and Path(proofs.STYLE).is_file()
    settings = matplotlib.rc_params_from_file(proofs.STYLE, use_default_template=False)
    assert settings["font.size"] == 9 and settings["axes.grid"] is True and len(settings) >= 10
    with matplotlib.style.context(proofs.STYLE):
        assert all(matplotlib.rcParams[k] == v for k, v in settings.items())
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "nqm.mplstyle" in package_data["nqm.proofs.figures"]


def test_figures_are_drawn_under_the_style_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    default = proofs.figure_2()
    title = default.figure.axes[0].title
    assert title.get_fontsize() == matplotlib.rc_params_from_file(proofs.STYLE, use_default_template=False)["axes.titlesize"]
    own = tmp_path / "own.mplstyle"
    own.write_text("axes.titlesize: 17\naxes.grid: False\n")
    monkeypatch.setattr(_figures, "STYLE", str(own))  # the one source: editing the file restyles every figure
    assert proofs.figure_2().figure.axes[0].title.get_fontsize() == 17


# ---------------------------------------------------------------------- Jupyter
def _tiny(caption: str = "steps < bound & <b>not bold</b>") -> _figures.FigureResult:
    fig = Figure(figsize=(2, 1.5))
    fig.subplots().plot([1, 2], [3, 4])
    return _figures.FigureResult("tiny", fig, [{"batch_size": 64.0, "steps": math.inf, "lr": 0.25}], caption)


def test_a_figure_result_shows_inline_as_png_and_html() -> None:
    result = _tiny()
    png = result._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    page = result._repr_html_()
    assert "&lt;b&gt;not bold&lt;/b&gt;" in page and "<b>" not in page and "&amp;" in page
    encoded = page.split("base64,")[1].split('"')[0]
    assert base64.b64decode(encoded).startswith(b"\x89PNG")
    bundle = result._repr_mimebundle_()
    assert set(bundle) == {"image/png", "text/html", "text/plain"} and bundle["image/png"].startswith(b"\x89PNG")


def test_figure_csv_writes_integral_numbers_as_integers(tmp_path: Path) -> None:
    _figures.save_figure(_tiny(), tmp_path)
    assert (tmp_path / "tiny.csv").read_text() == "batch_size,steps,lr\n64,inf,0.25\n"  # was 64.0,inf,0.25


# ---------------------------------------------------------------------- progress lines
@pytest.fixture
def immediate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress from the first item on, every item (the defaults wait 2 s and print at most every 5 s)."""
    monkeypatch.setattr(_cli_common, "PROGRESS_DELAY", 0.0)
    monkeypatch.setattr(_cli_common, "PLAIN_PROGRESS_INTERVAL", 0.0)


def _lines(text: str, prefix: str) -> list[str]:
    """The progress lines of ``prefix`` without the ``started`` line (its timer races the first item at delay 0)."""
    return [ln for ln in text.splitlines() if ln.startswith(prefix) and not ln.startswith(f"{prefix} started")]


def test_plain_lines_when_not_a_terminal(immediate: None, capsys: pytest.CaptureFixture[str]) -> None:
    wrap = progress_wrapper("work", quiet=False, label=lambda item: f"section {item}")
    assert wrap is not None  # pytest's standard error is not a terminal
    assert list(wrap(["a", "b"], 2)) == ["a", "b"]
    lines = _lines(capsys.readouterr().err, "[work]")
    assert [ln.rsplit(" (", 1)[0] for ln in lines] == ["[work] 1/2 section a", "[work] 2/2 section b"]
    # a line before the end says the time left at the rate so far; the last one only the time taken
    assert re.search(r"\(\d+ s, about \d+ s left\)$", lines[0]) and re.search(r"\(\d+ s\)$", lines[1])
    assert progress_wrapper("work", quiet=True) is None


def test_a_status_off_a_terminal_prints_its_updates(immediate: None, capsys: pytest.CaptureFixture[str]) -> None:
    with status("running proofs", quiet=False) as update:
        update("sgd: passed")
        update("momentum: passed")
    lines = [ln.rsplit(" (", 1)[0] for ln in _lines(capsys.readouterr().err, "[running proofs]")]
    assert lines == ["[running proofs] sgd: passed", "[running proofs] momentum: passed"]
    with status("quiet", quiet=True) as update:
        update("nothing")
    assert capsys.readouterr().err == ""


def test_a_started_line_comes_before_a_slow_first_item(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cli_common, "PROGRESS_DELAY", 0.05)

    def slow() -> Iterator[int]:
        time.sleep(0.5)
        yield 1

    assert list(progress_wrapper("work", quiet=False)(slow(), 1)) == [1]
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[work] started (0/1)" and lines[1].startswith("[work] 1/1 (")


def test_short_work_prints_nothing_and_long_work_is_throttled(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    wrap = progress_wrapper("work", quiet=False)
    assert list(wrap(range(50), 50)) == list(range(50))  # well under PROGRESS_DELAY (2 s)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_cli_common, "PROGRESS_DELAY", 0.0)
    list(progress_wrapper("work", quiet=False)(range(50), 50))  # default interval: the first and the last item
    assert [ln.rsplit(" (", 1)[0] for ln in _lines(capsys.readouterr().err, "[work]")] == ["[work] 1/50", "[work] 50/50"]


def test_the_report_names_the_section_of_every_progress_line(immediate: None, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    settings = (MonteCarloSetting("SGD", "sgd", {"lr": 0.5}, 8.0, steps=(0, 3), runs=20),
                MonteCarloSetting("momentum", "momentum", {"lr": 0.1, "beta": 0.8}, 8.0, steps=(0, 3), runs=20))
    config = ReportConfig(problem=nn.Problem.power_law(50, bins=4), monte_carlo=settings)
    build_report(tmp_path / "r", config=config, sections=("monte_carlo",), validation="none", executor="serial",
                 progress=progress_wrapper("nqm report", quiet=False, label=str))
    lines = [ln.rsplit(" (", 1)[0] for ln in _lines(capsys.readouterr().err, "[nqm report]")]
    assert lines == ["[nqm report] 1/2 Monte Carlo: SGD", "[nqm report] 2/2 Monte Carlo: momentum"]


def test_a_cli_command_prints_progress_lines_off_a_terminal(immediate: None, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NQM_CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(main, ["sweep", "--optimizer", "sgd", "--grid", "lr=1e-3:1:7", "--batch-sizes", "4,64",
                                       "--no-cache"])
    assert result.exit_code == 0, result.output
    lines = _lines(result.stderr, "[sweeping]")
    assert lines and lines[-1].startswith("[sweeping] ") and "/" in lines[-1]
    total = lines[-1].split()[1].split("/")[1]
    assert lines[-1].split()[1] == f"{total}/{total}"
    assert "[sweeping]" not in result.stdout  # progress goes to standard error only
