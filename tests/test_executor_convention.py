"""One executor convention everywhere (:func:`nqm.numerics.resolve_executor`): every public entry
point that runs tasks accepts the same ``executor=`` values with the same meaning, gives the serial
result for each of them, and refuses anything else with a ``ValueError`` naming ``executor``
before any work starts."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import nqm.numerics as nn
from nqm.numerics._parallel import LocalThreads, LocalWorkers, open_executor

SMALL = nn.Problem.paper(d=200, bins=6)
GRID = {"lr": [0.05, 0.2, 0.8], "beta": [0.0, 0.5, 0.9]}


def _figure(executor: Any) -> Any:
    from nqm.proofs.figures._core import FIGURES

    return FIGURES["fig3a"](problem=SMALL, batch_sizes=(4.0, 64.0), powers=(0.0,), target=0.05,
                            executor=executor).data


#: (entry point, a small call with ``executor``, a comparable summary of its result)
ENTRY_POINTS: list[tuple[str, Callable[[Any], Any]]] = [
    ("sweep", lambda ex: nn.sweep(SMALL, "momentum", batch_sizes=[4, 64], target=0.05, grid=GRID,
                                        executor=ex).rows),
    ("sweeps", lambda ex: [s.rows for s in nn.sweeps(SMALL, [{"optimizer": "sgd"}, {"optimizer": "momentum", "grid": GRID}],
                                                      batch_sizes=[4, 64], target=0.05, executor=ex)]),
    ("monte_carlo", lambda ex: nn.monte_carlo(SMALL, nn.SGD(lr=0.5), batch_size=8, steps=20, runs=50, seed=1,
                                              executor=ex).mean.tolist()),
    ("schedule_sweep", lambda ex: nn.schedule_sweep(SMALL, "sgd", batch_sizes=[4, 64], target=0.05, pieces=1,
                                                    constant_lrs=[0.1, 0.5, 1.0], executor=ex).steps.tolist()),
    ("figures", _figure),
]
IDS = [name for name, _ in ENTRY_POINTS]


@pytest.mark.parametrize("call", [c for _, c in ENTRY_POINTS], ids=IDS)
def test_every_entry_point_accepts_every_executor_form_with_the_serial_result(call: Callable[[Any], Any]) -> None:
    serial = call("serial")
    for form in (None, 2, "threads"):  # 0 and 1 are "serial": test_the_forms_resolve_to_one_meaning
        assert call(form) == serial, form
    with ThreadPoolExecutor(2) as pool:
        assert call(pool) == serial
        assert not pool._shutdown  # a caller's executor is used as given, never shut down


@pytest.mark.parametrize("call", [c for _, c in ENTRY_POINTS], ids=IDS)
@pytest.mark.parametrize("bad", ["thread", True, -1, nn.MAX_WORKERS + 1, 2.0, object()],
                         ids=["name", "bool", "negative", "too-many", "float", "object"])
def test_every_entry_point_refuses_a_bad_executor(call: Callable[[Any], Any], bad: object) -> None:
    with pytest.raises(ValueError, match=r"^executor must be None \(automatic\), 'serial', 'threads', 'processes'"):
        call(bad)


def test_the_report_figures_and_validation_refuse_a_bad_executor_before_any_work(tmp_path: Path) -> None:
    from nqm.proofs import build_report, make_figures

    with pytest.raises(ValueError, match="^executor must be"):
        build_report(tmp_path / "report", validation="none", executor="thread")
    assert not (tmp_path / "report").exists()
    with pytest.raises(ValueError, match="^executor must be"):
        make_figures(tmp_path / "figures", ["fig3a"], executor=-1)
    assert not (tmp_path / "figures").exists()
    from nqm.proofs.networks._validation import run_validation

    with pytest.raises(ValueError, match="^executor must be"):
        run_validation(tmp_path / "validation", executor="thread")
    assert not (tmp_path / "validation").exists()


def test_processes_give_the_serial_result() -> None:
    call = dict(ENTRY_POINTS)["sweeps"]
    assert call("processes") == call("serial")


def test_the_forms_resolve_to_one_meaning() -> None:
    cpus = os.cpu_count() or 1
    assert nn.resolve_executor(None) == LocalWorkers("threads", cpus)  # automatic, large work
    assert nn.resolve_executor(None, work=1.0, threshold=2.0) == "serial"  # automatic, small work
    assert nn.resolve_executor("serial") == nn.resolve_executor(0) == nn.resolve_executor(1) == "serial"
    assert nn.resolve_executor(3) == LocalWorkers("threads", 3)
    assert nn.resolve_executor("processes") == LocalWorkers("processes", cpus)
    with ThreadPoolExecutor(1) as pool:
        assert nn.resolve_executor(pool) is pool
    with open_executor(LocalWorkers("threads", 3), tasks=2) as pool:  # never more workers than tasks
        assert isinstance(pool, LocalThreads) and pool._max_workers == 2
    with open_executor(LocalWorkers("threads", 3), tasks=1) as pool:  # one task: this process
        assert pool is None


def test_a_dask_client_is_accepted_as_it_is() -> None:
    distributed = pytest.importorskip("dask.distributed")
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        resolved = nn.resolve_executor(client)
        assert type(resolved).__module__.startswith("distributed")
        call = dict(ENTRY_POINTS)["sweep"]
        assert call(client) == call("serial")
