"""The worked example (examples/custom_variant.py) runs and its read-offs are consistent."""

import runpy
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import nqm.numerics as nn
from nqm.theory.symbols import B, alpha, c, gamma, h, nu

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_variant.py"


def run_example(**kwargs):
    module = runpy.run_path(str(EXAMPLE))
    return module["main"](**kwargs)


@pytest.mark.slow  # several seconds: kept out of the quick run's 3-minute budget
def test_example_runs_and_reads_off_its_theory(capsys: pytest.CaptureFixture) -> None:
    out = run_example(max_examples=3, batch_sizes=[16.0, 1024.0, 65536.0])
    assert out["report"].ok, str(out["report"])
    # nu = 0 is SGD evaluated at an EMA of its iterates: Theorem 2's stationary risk
    ema_stationary = alpha * c / (2 * B * (2 - alpha * h)) * (1 - gamma) * (1 + (1 - alpha * h) * gamma) / (
        (1 + gamma) * (1 - (1 - alpha * h) * gamma)
    )
    assert sp.simplify(out["stationary_risk"].subs(nu, 0) - ema_stationary) == 0
    problem = nn.Problem.paper()
    bound = [nn.bayes_bound_steps(problem, batch_size=b, target=0.01) for b in out["batch_sizes"]]
    assert np.all(out["steps"] >= bound) and np.all(np.diff(out["steps"]) <= 0)
    assert np.all(out["steps"] <= out["sgd_steps"])  # its grid contains SGD's (gamma = 0)
    assert 0 < out["critical_batch_size"] < np.inf
    assert "critical batch size" in capsys.readouterr().out


@pytest.mark.slow
def test_example_full_run() -> None:
    out = run_example()
    assert out["report"].ok, str(out["report"])
    assert np.all(np.diff(out["steps"]) <= 0) and np.all(np.diff(out["sgd_steps"]) <= 0)
