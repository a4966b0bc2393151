"""``nqm validate``: refuses to overwrite results and fails with one line and exit status 2."""

from click.testing import CliRunner

from nqm.proofs.cli._main import main


def test_validate_refuses_to_overwrite_existing_outputs(tmp_path) -> None:
    (tmp_path / "claims.csv").write_text("keep me")
    result = CliRunner().invoke(main, ["validate", str(tmp_path), "--reduced"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "--force" in lines[0]
    assert (tmp_path / "claims.csv").read_text() == "keep me"


def test_validate_is_listed_with_its_options() -> None:
    result = CliRunner().invoke(main, ["validate", "--help"])
    assert result.exit_code == 0
    for option in ("--reduced", "--force", "--cache-dir"):
        assert option in result.output
