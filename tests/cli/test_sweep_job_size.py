"""``nqm sweep`` says how large its job is before the work starts, and nothing of it with --quiet."""

from conftest import run


def test_sweep_reports_the_size_of_each_run_first() -> None:
    result = run("sweep", "--optimizer", "momentum", "--precond-power", "0", "--precond-power", "0.5",
                 "--batch-sizes", "4,64,1024", "--grid", "lr=0.01:1:10", "--hp", "beta=0.9")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:2] == [
        "momentum, p = 0: 10 grid points x 3 batch sizes x 100 bins = 3,000 searches in 1 task",
        "momentum, p = 0.5: 10 grid points x 3 batch sizes x 100 bins = 3,000 searches in 1 task",
    ]


def test_quiet_sweep_prints_no_job_size() -> None:
    result = run("sweep", "--optimizer", "sgd", "--batch-sizes", "4,64", "--grid", "lr=0.01:1:10", "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
