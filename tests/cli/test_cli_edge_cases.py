"""Edge cases found in review: repeated names, divergent Monte Carlo, horizons beyond memory."""

import pytest
from click.testing import CliRunner

import nqm.numerics as nn
from nqm.numerics.validation import MAX_MONTE_CARLO_STEPS
from nqm.proofs.cli._main import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize(
    "args",
    [
        ("steps", "--optimizer", "sgd", "--hp", "lr=0.1", "--hp", "lr=0.2", "--batch-size", "64"),
        ("sweep", "--optimizer", "sgd", "--grid", "lr=1e-3:1:5", "--grid", "lr=1e-2:1:5", "--batch-sizes", "4,16"),
        ("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.1", "--hp", "lr=0.2", "--batch-size", "16"),
    ],
)
def test_a_repeated_name_is_refused(args) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "more than once" in result.output and len(result.output.strip().splitlines()) == 1


def test_monte_carlo_refuses_horizons_beyond_its_limit() -> None:
    with pytest.raises(ValueError, match="steps must be at most"):
        nn.monte_carlo(nn.Problem([1.0]), nn.SGD(lr=0.1), batch_size=1, steps=MAX_MONTE_CARLO_STEPS + 1, runs=2)
    result = run("montecarlo", "--optimizer", "sgd", "--hp", "lr=0.5", "--batch-size", "64", "--steps", "1e12")
    assert result.exit_code == 2 and result.output.startswith("error: steps must be at most")


def test_divergent_monte_carlo_is_reported_as_divergent_not_compared() -> None:
    result = run("montecarlo", "--optimizer", "sgd", "--hp", "lr=2.5", "--batch-size", "64", "--steps", "0:2000:1000",
                 "--runs", "4", "--simulate", "per-bin", "--no-cache")  # 84 coordinates: the point is the divergence
    assert result.exit_code == 0, result.output
    assert "the setting diverges" in result.output
    assert "nan" not in result.output.lower()


@pytest.mark.parametrize("name", sorted(main.commands))
def test_short_help_flag_survives_a_standalone_invocation(name: str) -> None:
    """click caches each command's help option; invoking it on its own first must not lose -h."""
    command = main.commands[name]
    assert CliRunner().invoke(command, ["-h"]).exit_code == 0
    assert run(name, "-h").exit_code == 0
