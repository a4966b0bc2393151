r"""The report's units of work: module-level, picklable tasks and the numbers they produce.

Every task runs on any executor of the toolkit's convention
(:func:`nqm.numerics.resolve_executor`: a local pool, a cluster's executor, or in-process) and returns ``(result, seconds)``, the seconds being the
wall time the task itself took. Nothing here writes files; :mod:`._build` does.

The Monte-Carlo check (:func:`monte_carlo_task`, :func:`monte_carlo_rows`) compares the mean
loss of ``runs`` simulated runs (:func:`nqm.numerics.monte_carlo`, the actual stochastic
updates) with the exact expected risk :math:`\mathbb E\,\mathcal L_t`
(:func:`nqm.numerics.expected_risk`) at a few steps :math:`t`. Its tolerance is exact, not
a normal approximation: :func:`~nqm.proofs.monte_carlo_tolerances` (Laurent–Massart) from the
exact variance of one run's loss (:func:`nqm.numerics.risk_variance` of the simulated
problem) with a family-wise false-failure rate over every comparison of the table. The
z-score :math:`(\bar{\mathcal L}_t - \mathbb E\,\mathcal L_t)/\sqrt{\operatorname{Var}\mathcal L_t/R}`
is reported beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nqm.numerics import expected_risk, monte_carlo, optimizer, risk_variance
from nqm.theory import OptimizerSpec

from ..claims import run_all
from ..conformance import monte_carlo_tolerances, per_coordinate_risk
from ._math import derivation_sections, render_sections

__all__ = [
    "MonteCarloSetting",
    "derivation_task",
    "monte_carlo_rows",
    "monte_carlo_task",
    "proofs_task",
    "timed",
    "validation_task",
]


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """``(fn(*args, **kwargs), seconds)``."""
    clock = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - clock


# ---------------------------------------------------------------------- derivations and proofs
def derivation_task(specs: Sequence[object] | None) -> tuple[Any, float]:
    """``((document, sections), drawings)``: :func:`~._math.derivation_sections` for ``specs`` (None:
    every registered optimizer) and every section drawn by :func:`~._math.render_sections` (one
    task, so the drawing starts as soon as the derivation ends, with identical formulas drawn once)."""

    def run() -> tuple[Any, Any]:
        derived = derivation_sections(specs)
        return derived, render_sections(derived[1])

    return timed(run)


def proofs_task(job: tuple[Sequence[OptimizerSpec], Sequence[OptimizerSpec]]) -> tuple[Any, float]:
    """:func:`~nqm.proofs.run_all` on ``(specs, registered)``: spec objects of the calling process
    (its registry, e.g. with ``--spec-file`` specs), so a worker process proves what the caller sees."""
    specs, registered = job
    return timed(run_all, specs, registered=registered)


# ---------------------------------------------------------------------- Monte Carlo
@dataclass(frozen=True)
class MonteCarloSetting:
    """One Monte-Carlo comparison: optimizer ``name`` with ``hyperparameters`` and
    ``precond_power`` at ``batch_size``, simulated ``runs`` times for ``max(steps)`` steps and
    compared with the exact risk at ``steps``."""

    label: str
    name: str
    hyperparameters: dict[str, float]
    batch_size: float
    steps: tuple[int, ...] = (0, 10, 30, 100, 300)
    runs: int = 1000
    precond_power: float = 0.0
    seed: int = 0

    def optimizer(self) -> Any:
        """The optimizer of this setting."""
        return optimizer(self.name, precond_power=self.precond_power, **self.hyperparameters)


#: the default settings on the paper's problem: every built-in family of the sweeps, a
#: preconditioned run, small and large batches
DEFAULT_MONTE_CARLO = (
    MonteCarloSetting("SGD", "sgd", {"lr": 1.0}, 64.0),
    MonteCarloSetting("momentum", "momentum", {"lr": 0.1, "beta": 0.9}, 256.0),
    MonteCarloSetting("SGD + EMA", "ema", {"lr": 1.0, "gamma": 0.9}, 16.0),
    MonteCarloSetting("SGD, P = H^0.5", "sgd", {"lr": 0.5}, 1024.0, precond_power=0.5),
)


@dataclass(frozen=True)
class MonteCarloOutcome:
    """What :func:`monte_carlo_task` computed for one setting (curves over steps ``0..max(steps)``)."""

    setting: MonteCarloSetting
    mean: np.ndarray
    stderr: np.ndarray
    exact: np.ndarray
    variance: np.ndarray
    largest: np.ndarray = field(repr=False)


def monte_carlo_task(task: tuple[Any, MonteCarloSetting]) -> tuple[MonteCarloOutcome, float]:
    """Simulate one setting (one coordinate per bin, ``simulate="per-bin"``) and evaluate the exact references.

    ``variance``: exact variance of one run's loss of the simulated problem (same expected
    risk as the input problem); ``largest``: the largest per-coordinate expected risk (for
    :func:`~nqm.proofs.monte_carlo_tolerances`), at every step ``0..max(steps)``.
    """
    problem, setting = task

    def run() -> MonteCarloOutcome:
        opt = setting.optimizer()
        T = max(setting.steps)
        steps = np.arange(T + 1)
        mc = monte_carlo(problem, opt, batch_size=setting.batch_size, steps=T, runs=setting.runs, seed=setting.seed,
                         simulate="per-bin", executor="serial")
        sim = mc.simulated_problem
        checked = np.asarray(setting.steps)
        return MonteCarloOutcome(
            setting,
            mc.mean,
            mc.stderr,
            expected_risk(problem, opt, batch_size=setting.batch_size, steps=steps),
            risk_variance(sim, opt, batch_size=setting.batch_size, steps=checked),
            per_coordinate_risk(sim, opt, setting.batch_size, checked).max(axis=0),
        )

    return timed(run)


def monte_carlo_rows(outcomes: Sequence[MonteCarloOutcome], rate: float) -> list[dict[str, Any]]:
    """One row per (setting, checked step): exact risk, MC mean and standard error, z-score, the
    allowed deviations and whether the mean lies within them (family-wise rate ``rate`` over all rows)."""
    comparisons = sum(len(o.setting.steps) for o in outcomes)
    rows = []
    for o in outcomes:
        s = o.setting
        t = np.asarray(s.steps)
        below, above = monte_carlo_tolerances(o.variance, o.largest, s.runs, comparisons, rate)
        for i, step in enumerate(t):
            exact, mean = float(o.exact[step]), float(o.mean[step])
            sd = float(np.sqrt(o.variance[i] / s.runs))
            rows.append(dict(
                setting=s.label, optimizer=s.name, precond_power=s.precond_power, batch_size=s.batch_size,
                **{f"hp_{k}": v for k, v in s.hyperparameters.items()},
                runs=s.runs, seed=s.seed, step=int(step), exact=exact, mc_mean=mean, mc_stderr=float(o.stderr[step]),
                exact_sd_of_mean=sd, z=(mean - exact) / sd if sd > 0 else 0.0,
                allowed_below=float(below[i]), allowed_above=float(above[i]),
                agrees=bool(-below[i] <= mean - exact <= above[i]),
            ))
    return rows


# ---------------------------------------------------------------------- PyTorch validation
def validation_task(task: tuple[str, str, bool]) -> tuple[Any, float]:
    """``(mode, folder, force)``: ``"quick"`` runs the linear-regression comparison of the constant-
    and multiplicative-noise NQM with PyTorch (the first part of :func:`~nqm.proofs.run_validation`,
    reduced configuration); ``"reduced"``/``"full"`` run the whole validation. Returns a dict
    ``{"mode", "linear": rows, "report": ValidationReport | None}``."""
    mode, folder, force = task

    def run() -> dict[str, Any]:
        out = Path(folder)
        from ..networks import run_linear_validation, run_validation  # the torch extra: loaded only here

        if mode == "quick":
            return {"mode": mode, "linear": run_linear_validation(out, reduced=True, force=force), "report": None}

        report = run_validation(out, reduced=mode == "reduced", force=force, progress=False)
        return {"mode": mode, "linear": report.linear, "report": report}

    return timed(run)
