"""The default executor works wherever Python code runs (issue: a plain script crashed with
``BrokenProcessPool`` as soon as the default pool started, because a process pool's workers
re-import ``__main__``).

The same job runs through the five ways of running Python: a guarded script, an unguarded script
(as the README's "ten lines" are written), ``python -c``, ``python -`` with the code on standard
input, and a Jupyter kernel. The job is the issue's Monte Carlo (8 directions, 20,000 runs, 300
steps: two tasks, counted through ``progress``, so the default opens a pool; it crashed an
unguarded script before) and a sweep on an explicit pool of 2 workers. Each
must print the results of the same job run serially in this process (every executor gives the
same result, bit for bit: :func:`nqm.numerics.resolve_executor`).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: the job: ``job(None)`` (the default executor) in the scripts, ``job("serial")`` here
JOB = textwrap.dedent(
    """
    import json
    import nqm.numerics as nn

    def job(executor):
        tasks = []

        def count(iterable, total):
            tasks.append(total)
            return iterable

        mc = nn.monte_carlo(nn.Problem.paper(binned=False, d=8), nn.SGD(lr=0.5), batch_size=16, steps=300,
                            runs=20_000, seed=3, executor=executor, progress=count)
        table = nn.sweep(nn.Problem.paper(d=1000, bins=40), "momentum", batch_sizes=[16, 256], target=0.05,
                         executor=2 if executor is None else executor)
        return json.dumps([tasks, mc.mean.tolist(), mc.stderr.tolist(), [[r.steps, r.hyperparameters] for r in table.rows]])
    """
)
GUARDED = JOB + 'if __name__ == "__main__":\n    print(job(None))\n'
UNGUARDED = JOB + "print(job(None))\n"


@functools.cache
def _expected() -> object:
    namespace: dict = {}
    exec(JOB, namespace)  # the job's own text, defined by this test
    return json.loads(namespace["job"]("serial"))


def _last_json(stdout: str) -> object:
    return json.loads(stdout.strip().splitlines()[-1])


def test_the_job_opens_a_pool_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Monte Carlo has two tasks, so ``executor=None`` distributes them on a pool of its own (the
    case that crashed), beside the sweep's explicit pool of 2: two pools open, with the serial result."""
    from nqm.numerics import _parallel

    opened = []
    original = _parallel.LocalThreads.__init__

    def spy(self: _parallel.LocalThreads, *args: object, **kwargs: object) -> None:
        opened.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(_parallel.LocalThreads, "__init__", spy)
    namespace: dict = {}
    exec(JOB, namespace)
    assert json.loads(namespace["job"](None)) == _expected()
    assert len(opened) == 2


@pytest.mark.parametrize("how", ["guarded script", "unguarded script", "python -c", "python - (stdin)"])
def test_the_default_executor_works_from_every_kind_of_script(how: str, tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(GUARDED if how == "guarded script" else UNGUARDED)
    cmd, stdin = {
        "guarded script": ([sys.executable, str(script)], None),
        "unguarded script": ([sys.executable, str(script)], None),
        "python -c": ([sys.executable, "-c", UNGUARDED], None),
        "python - (stdin)": ([sys.executable, "-"], UNGUARDED),
    }[how]
    run = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert _last_json(run.stdout) == _expected()


def test_the_default_executor_works_in_a_jupyter_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # a kernel of this interpreter (the installed "python3" spec may name another one)
    spec = tmp_path / "kernels" / "nqm-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nqm test", "language": "python",
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(JOB), nbformat.v4.new_code_cell("print(job(None))")])
    nbclient.NotebookClient(nb, kernel_name="nqm-test", timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = nb.cells[1].outputs
    assert [o.get("name") for o in out] == ["stdout"], out
    assert _last_json(out[0]["text"]) == _expected()
