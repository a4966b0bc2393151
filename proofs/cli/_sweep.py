r"""The ``nqm sweep``, ``nqm critical`` and ``nqm steps`` commands (exact engine, the paper's problem).

``sweep`` tunes each optimizer at every batch size (:func:`nqm.numerics.sweep`, the paper's
grids unless ``--grid``/``--hp``) and prints the steps-vs-B table of Fig. 3a/4 with both
critical batch sizes; ``critical`` prints only those; ``steps`` evaluates one hyperparameter
setting (:func:`nqm.numerics.steps_to_target`, :func:`nqm.numerics.stationary_risk`).

Critical batch size, two definitions (:mod:`nqm.numerics._critical`):

* McCandlish et al. (2018): fit :math:`S = S_{\min} + E_{\min}/B` to the tuned curve,
  :math:`B_{\rm crit} = E_{\min}/S_{\min}`;
* 2x perfect scaling: the first :math:`B` with :math:`S(B)\,B = 2\,S(B_0)\,B_0`
  (interpolated in log-log between rows; ``inf`` if not reached on the rows).
"""


from __future__ import annotations

from typing import Any

import click

from ._common import CONTEXT_SETTINGS, call, force_option, quiet_option, spec_file_option
from ._values import (
    BATCH_SIZES,
    GRID,
    HYPERPARAMETER,
    TABLE_OUTPUT,
    cache_dir_option,
    distinct_names,
    no_cache_option,
    optimizers_option,
    precond_powers_option,
    problem_option,
    target_option,
    workers_option,
)

__all__ = ["critical", "steps", "sweep"]


_SYNTAX = """\b
Batch sizes: a:b = a, 2a, 4a, ... up to b (4:1048576 = all powers of two from 2^2 to 2^20);
a:b:r uses ratio r (4:1048576:4 = the paper's 2^2, 2^4, ..., 2^20, the default); or 4,64,1024.
Grid axes: NAME=a:b:n (n log-spaced points), NAME=lin:a:b:n, NAME=1-log:a:b:n (1 - log-spaced,
the paper's momentum grid is beta=1-log:1e-5:1:20), or NAME=v1,v2,...; unset hyperparameters
use the paper's grids (lr log-spaced, beta/gamma 1 - log-spaced), or fix them with --hp NAME=VALUE.
"""


def _sweep_options(func: Any) -> Any:
    for decorator in reversed([
        optimizers_option(("momentum",)),
        precond_powers_option(),
        click.option("--batch-sizes", type=BATCH_SIZES, default="4:1048576:4", show_default=True,
                     help="Batch sizes (syntax below)."),
        target_option,
        click.option("--grid", "grids", type=GRID, multiple=True, callback=distinct_names, help="A hyperparameter's grid axis, e.g. lr=1e-8:10:100 (repeatable)."),
        click.option("--hp", "fixed", type=HYPERPARAMETER, multiple=True, callback=distinct_names, help="Fix a hyperparameter, e.g. beta=0.9 (repeatable)."),
        click.option("--refine", is_flag=True, help="Refine each optimum past the grid (edge extension and local zoom)."),
        problem_option,
        workers_option,
        cache_dir_option,
        no_cache_option,
        quiet_option,
        spec_file_option,
    ]):
        func = decorator(func)
    return func


@click.command("sweep", context_settings=CONTEXT_SETTINGS, short_help="Tuned steps to target against batch size (Fig. 3a), with critical batch sizes.", epilog=_SYNTAX + """\b
Examples:
  nqm sweep --optimizer momentum --precond-power 0.5 --batch-sizes 4:1048576 --target 0.01
  nqm sweep --optimizer sgd,momentum --precond-power 0 --precond-power 0.5 --output fig4.csv
  nqm sweep --optimizer momentum --grid lr=1e-4:1:40 --hp beta=0.9 --batch-sizes 16,256,4096
""")
@_sweep_options
@click.option("--output", "-o", type=TABLE_OUTPUT, default=None,
              help="Write the rows to FILE.csv or FILE.json (JSON adds the grids and critical batch sizes).")
@force_option
def sweep(**options: Any) -> None:
    """Tuned steps to target against batch size (Fig. 3a, 4), exact, on the paper's problem.

    At every batch size each hyperparameter grid point's exact steps to the target are found and
    the fewest kept; prints per optimizer and p the table (B, steps, tuned hyperparameters,
    effective learning rate, information-theoretic bound tr(H^-1 C)/(2 target B)) and both
    critical batch sizes.
    """
    call("nqm.proofs.cli._sweep_run:sweep", **options)


@click.command("critical", context_settings=CONTEXT_SETTINGS, epilog=_SYNTAX + """\b
Examples:
  nqm critical --optimizer sgd,momentum --precond-power 0 --precond-power 0.5
  nqm critical --optimizer momentum --batch-sizes 4:1048576 --output crit.json
""")
@_sweep_options
@click.option("--output", "-o", type=TABLE_OUTPUT, default=None,
              help="Write the critical batch sizes to FILE.csv or FILE.json.")
@force_option
def critical(**options: Any) -> None:
    """Critical batch sizes of the tuned steps-vs-B curve, by both definitions.

    McCandlish et al. (2018): fit S = S_min + E_min/B to the tuned curve; B_crit = E_min/S_min.
    Perfect-scaling breakdown: the first B at which the steps are twice the perfect-scaling
    extrapolation S(B0) B0 / B from the smallest batch size (interpolated between rows).
    """
    call("nqm.proofs.cli._sweep_run:critical", **options)


@click.command("steps", context_settings=CONTEXT_SETTINGS, epilog="""\b
Batch sizes: a:b = a, 2a, 4a, ... up to b; a:b:r uses ratio r; or a comma list 4,64,1024.

\b
Examples:
  nqm steps --optimizer momentum --hp lr=0.1 --hp beta=0.9 --batch-size 64 --target 0.01
  nqm steps --optimizer sgd --hp lr=0.5 --precond-power 0.5 --batch-size 4:4096
""")
@optimizers_option(None)
@click.option("--hp", "hyper", type=HYPERPARAMETER, multiple=True, callback=distinct_names, metavar="NAME=VALUE",
              help="A hyperparameter of the optimizer, e.g. lr=0.1 (repeatable; every one is needed).")
@precond_powers_option(multiple=False)
@click.option("--batch-size", "batch_sizes", type=BATCH_SIZES, required=True, help="Batch size(s) (syntax below).")
@target_option
@problem_option
@click.option("--output", "-o", type=TABLE_OUTPUT, default=None,
              help="Write the table to FILE.csv or FILE.json.")
@force_option
@spec_file_option
def steps(**options: Any) -> None:
    """Exact steps to the target, and the stationary risk, for one hyperparameter setting.

    The first step t with expected risk E L(t) <= target (exact even for oscillating curves;
    'never' if the stationary risk is above the target or the setting diverges).
    """
    call("nqm.proofs.cli._sweep_run:steps", **options)
