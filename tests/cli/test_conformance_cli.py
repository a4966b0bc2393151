"""``nqm conformance``: passes a correct optimizer, fails (exit 1) a broken user spec from a file."""

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner

from nqm.proofs.cli._conformance import conformance

ASCENT = textwrap.dedent(
    """
    from nqm.theory import BETA, LR, OptimizerSpec

    def ascent(grad, theta, m, lr, beta):
        m = beta * m + grad(theta)
        return theta + lr * m, m  # sign error: should be theta - lr * m

    SPEC = OptimizerSpec.from_update("cli_momentum_ascent", ascent, state=("theta", "m"), hyperparameters=(LR, BETA))
    """
)


def test_builtin_passes_and_json_lists_every_property(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(conformance, ["sgd", "--max-examples", "2", "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    from nqm.proofs import PROPERTIES

    assert [r["name"] for r in data[0]["results"]] == list(PROPERTIES)
    assert data[0]["ok"] is True


def test_broken_user_spec_fails_with_exit_1(tmp_path: Path) -> None:
    spec_file = tmp_path / "ascent.py"
    spec_file.write_text(ASCENT)
    result = CliRunner().invoke(
        conformance,
        ["cli_momentum_ascent", "--spec-file", str(spec_file), "--property", "stable_for_small_lr", "--max-examples", "3"],
    )
    assert result.exit_code == 1, result.output
    assert "FAILED: stable_for_small_lr" in result.output


def test_refuses_to_overwrite_json(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("keep")
    result = CliRunner().invoke(conformance, ["sgd", "--max-examples", "1", "--json", str(out)])
    assert result.exit_code == 2
    assert out.read_text() == "keep"
