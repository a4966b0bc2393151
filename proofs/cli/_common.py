"""Conventions shared by every ``nqm`` subcommand.

* **One-line errors.** :class:`NqmGroup` runs click in non-standalone mode and turns any usage
  error (unknown flag or command, bad or missing value) and any ``ValueError``/``KeyError`` raised
  by the Python API on bad user values into one line ``error: ...`` on standard error, exit
  status 2. Commands report their own usage errors with :func:`fail`.
* **Progress.** Work that may take longer than about 2 s goes through :func:`progress_wrapper`
  (a transient rich bar on standard error for iterables, e.g. ``map_tasks(progress=...)``; plain
  lines naming what finished when standard error is not a terminal, e.g. in CI logs) or
  :func:`status` (a spinner for one long call); both appear only after 2 s and ``--quiet``
  (:data:`quiet_option`) silences them.
* **No silent overwrite.** :func:`refuse_overwrite` before writing; ``--force``
  (:data:`force_option`) replaces.
* **Outputs checked before the work.** Every output file or folder option has the click type
  :class:`OutputPath`: at parse time the folder that will hold it must exist (for a folder
  output: its nearest existing ancestor), be a folder and accept a new file (tried by creating
  and removing an empty probe file, so read-only mounts count, also for root), a file output
  must not be a folder, and the suffix must be one the command writes; otherwise one line,
  exit status 2, and nothing is computed or written. Files are written whole or not at all
  (:func:`write_output`).
* **User optimizers.** ``--spec-file FILE`` (:data:`spec_file_option`, on the group and on every
  subcommand) registers the :class:`~nqm.theory.OptimizerSpec` objects a Python file defines
  (:func:`._specfile.load_spec_file`); entry points in the ``nqm.optimizers`` group are
  registered by :mod:`nqm.theory` itself.
* **Nothing heavy at start-up.** A command is declared (options, help) in a module that imports
  only click and this module; its body lives in a ``_<command>_run`` module that imports what it
  needs at the top. :func:`call` imports a body when the command runs and :class:`NqmGroup`
  imports a declaration when the command is looked up: the command line's only imports on demand,
  so ``nqm --help`` and ``nqm COMMAND --help`` load neither sympy nor the engine.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

__all__ = [
    "CONTEXT_SETTINGS",
    "MAX_WORKERS",
    "NqmGroup",
    "OutputPath",
    "call",
    "fail",
    "force_option",
    "progress_wrapper",
    "quiet_option",
    "refuse_overwrite",
    "resolve",
    "spec_file_option",
    "status",
    "write_output",
]

T = TypeVar("T")

#: Work shorter than this many seconds never shows a progress bar or spinner.
PROGRESS_DELAY = 2.0

USAGE_EXIT = 2

#: most workers a command starts (``--workers``, ``--jobs``; threads, as ``executor=N``): 4 per CPU. The same
#: value as ``nqm.numerics.MAX_WORKERS``, spelled out so that ``nqm --help`` does not import the engine
MAX_WORKERS = 4 * (os.cpu_count() or 1)

#: every command accepts -h as well as --help, also when invoked on its own (click caches the
#: help option per command, so the group's setting alone is not enough)
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def fail(message: str) -> NoReturn:
    """Print ``error: <message>`` as one line on standard error and exit with status 2."""
    click.echo(f"error: {_one_line(message)}", err=True)
    sys.exit(USAGE_EXIT)


def refuse_overwrite(paths: Iterable[Path | None], force: bool) -> None:
    """:func:`fail` naming the first of ``paths`` that exists, unless ``force`` (``None`` entries are skipped)."""
    if force:
        return
    for path in paths:
        if path is not None and Path(path).exists():
            fail(f"{path} exists; pass --force to replace it")


def _accepts_new_files(folder: Path) -> str | None:
    """Why a new file cannot be created in the existing ``folder`` (``None`` if it can): an empty
    probe file is created and removed, the only test that also holds for root and read-only mounts."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".nqm-write-check-", dir=folder)
    except OSError as exc:
        return f"cannot write into {folder} ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    return None


def output_problem(path: Path, kind: str = "file", suffixes: Sequence[str] = ()) -> str | None:
    """Why ``path`` cannot be written as an output ``kind`` ("file" or "dir"), or ``None``.

    A file needs an existing parent folder that accepts a new file (outputs are written next to the
    target and renamed over it, :func:`write_output`) and must not be a folder, with one of
    ``suffixes`` if any are given; a folder must be a folder that accepts a new file if it exists,
    and otherwise its nearest existing ancestor must be (the folder is created by the command).
    Existing outputs are not refused here: that is :func:`refuse_overwrite`'s ``--force`` rule.
    """
    if kind == "file":
        if path.is_dir():
            return f"{path} is a folder; give a file name"
        if suffixes and path.suffix.lower() not in suffixes:
            return f"{path} must end in {' or '.join(suffixes)}"
        folder = path.absolute().parent
        if not folder.exists():
            return f"folder {folder} does not exist"
        if not folder.is_dir():
            return f"{folder} is not a folder"
        return _accepts_new_files(folder)
    if path.exists():
        return _accepts_new_files(path) if path.is_dir() else f"{path} is a file; give a folder"
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"cannot create folder {path}: {ancestor} is a file"
    return _accepts_new_files(ancestor)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_output(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all: into a temporary file next to it, then renamed
    over it (an interrupted or failed write leaves no half-written output). The file gets the mode a
    plain ``open(path, "w")`` would give it (the replaced file's, or 0o666 less the umask)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.absolute().parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class OutputPath(click.ParamType):
    """A click type for an output file (``kind="file"``) or folder (``kind="dir"``), checked at parse
    time by :func:`output_problem`, i.e. before any work starts; the value is a :class:`~pathlib.Path`."""

    def __init__(self, kind: str = "file", suffixes: Sequence[str] = ()) -> None:
        self.kind = kind
        self.suffixes = tuple(suffixes)
        self.name = "DIR" if kind == "dir" else "FILE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        problem = output_problem(path, self.kind, self.suffixes)
        if problem is not None:
            self.fail(problem, param, ctx)
        return path


quiet_option = click.option("--quiet", "-q", is_flag=True, help="Silence progress bars.")
force_option = click.option("--force", is_flag=True, help="Replace existing output files.")


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@contextmanager
def _delayed(live: Any) -> Iterator[None]:
    """Start the rich ``live`` display (a Progress or Status) only after :data:`PROGRESS_DELAY` seconds."""
    timer = threading.Timer(PROGRESS_DELAY, live.start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        timer.join()
        live.stop()  # a no-op if it never started


def progress_wrapper(
    description: str, quiet: bool, label: Callable[[T], str] | None = None
) -> Callable[[Iterable[T], int], Iterable[T]] | None:
    """A ``wrapper(iterable, total)`` that reports progress on standard error.

    Compatible with ``numerics._parallel.map_tasks(progress=...)``. On a terminal: a transient
    rich progress bar. Otherwise (CI logs, ``!nqm report`` in a notebook): plain lines
    ``[description] done/total label (elapsed s, about N s left)`` (:func:`_plain_lines`; the time
    left assumes the remaining items take as long as the finished ones did on average). Either appears only
    once the iteration has run for :data:`PROGRESS_DELAY` seconds. ``label(item)`` names what an
    item finished (e.g. the report's section); ``None`` (nothing) when ``quiet``.
    """
    console = _stderr_console()
    if quiet:
        return None
    if not console.is_terminal:
        return _plain_lines(description, label)

    def wrap(iterable: Iterable[T], total: int) -> Iterator[T]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TimeRemainingColumn(), console=console, transient=True)
        task = bar.add_task(description, total=total)
        with _delayed(bar):
            for item in iterable:
                yield item
                bar.update(task, advance=1, description=description if label is None else f"{description}: {label(item)}")

    return wrap


#: plain progress lines come at most this often (plus the one of the last item)
PLAIN_PROGRESS_INTERVAL = 5.0


class _PlainLines:
    """Progress as plain lines on standard error, for logs (standard error not a terminal):
    ``[description] started`` after :data:`PROGRESS_DELAY` seconds, then ``[description] text
    (elapsed s)`` at most every :data:`PLAIN_PROGRESS_INTERVAL` seconds and for a ``final`` text;
    nothing for work shorter than the delay."""

    def __init__(self, description: str, started: str) -> None:
        self.description = description
        self.start = time.monotonic()
        self.last = -math.inf
        self.timer = threading.Timer(PROGRESS_DELAY, self._say, (started,))
        self.timer.daemon = True
        self.timer.start()

    def _say(self, text: str) -> None:
        sys.stderr.write(f"[{self.description}] {text}\n")
        sys.stderr.flush()

    def report(self, text: str, final: bool = False, fraction: float | None = None) -> None:
        """Say ``text (elapsed s)`` if due; with ``fraction`` (of the work done, in (0, 1)) also the
        time left at the rate so far."""
        now = time.monotonic()
        if now - self.start >= PROGRESS_DELAY and (final or now - self.last >= PLAIN_PROGRESS_INTERVAL):
            self.stop()  # the started line, if due, comes first
            elapsed = now - self.start
            left = f", about {elapsed * (1 - fraction) / fraction:.0f} s left" if fraction and 0 < fraction < 1 else ""
            self._say(f"{text} ({elapsed:.0f} s{left})")
            self.last = now

    def stop(self) -> None:
        self.timer.cancel()
        self.timer.join()


def _plain_lines(description: str, label: Callable[[T], str] | None) -> Callable[[Iterable[T], int], Iterator[T]]:
    """:class:`_PlainLines` around an iteration: ``[description] done/total label (elapsed s, about N s left)``."""

    def wrap(iterable: Iterable[T], total: int) -> Iterator[T]:
        lines = _PlainLines(description, f"started (0/{total})")
        try:
            for done, item in enumerate(iterable, 1):
                yield item
                lines.report(f"{done}/{total}" + ("" if label is None else f" {label(item)}"), final=done == total,
                             fraction=done / total if total else None)
        finally:
            lines.stop()

    return wrap


@contextmanager
def status(description: str, quiet: bool) -> Iterator[Callable[[str], None]]:
    """A spinner on standard error for one long call, shown after :data:`PROGRESS_DELAY` seconds.

    Yields ``update(text)`` to change the message. When standard error is not a terminal, plain
    lines instead (:class:`_PlainLines`: ``[description] started``, then the updates). Silent when ``quiet``.
    """
    console = _stderr_console()
    if quiet:
        yield lambda text: None
        return
    if not console.is_terminal:
        lines = _PlainLines(description, "started")
        try:
            yield lines.report
        finally:
            lines.stop()
        return
    from rich.status import Status

    spinner = Status(description, console=console)
    with _delayed(spinner):
        yield lambda text: spinner.update(text)


def resolve(target: str) -> Any:
    """The object ``"package.module:attribute"``, importing its module now."""
    module, attribute = target.split(":")
    return getattr(importlib.import_module(module), attribute)


def call(target: str, /, *args: Any, **kwargs: Any) -> Any:
    """Call the function ``target`` (``"package.module:function"``), importing its module now.

    A command's declaration calls its body this way, so that the body's imports (sympy, the
    engine, matplotlib) load when the command runs, never for its help.
    """
    return resolve(target)(*args, **kwargs)


def _load_spec_files(ctx: click.Context, param: click.Parameter, values: tuple[Path, ...]) -> None:
    for path in values:
        try:
            call("nqm.proofs.cli._specfile:load_spec_file", path)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


spec_file_option = click.option(
    "--spec-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), multiple=True,
    is_eager=True, expose_value=False, callback=_load_spec_files, metavar="FILE",
    help="A Python file defining OptimizerSpec objects (module-level, or a list SPECS); "
         "they become usable by name. Repeatable.",
)


class NqmGroup(click.Group):
    """A click group whose errors are one line, exit status 2, never a traceback.

    Usage errors (bad flag, value, missing argument, unknown command) and ``ValueError``/``KeyError``
    from the Python API print ``error: ...`` (with a ``try 'nqm X --help'`` hint for usage errors).
    Other exceptions are bugs and keep their traceback.
    """

    def __init__(self, *args: Any, lazy_commands: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: command name -> "module:attribute", imported when the command is first looked up, so that
        #: ``nqm X`` loads only what X needs (the one place the command line imports on demand)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            self.add_command(resolve(self.lazy_commands[cmd_name]), cmd_name)
        return super().get_command(ctx, cmd_name)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            rv = exc.exit_code
        except click.UsageError as exc:
            hint = f" (try '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            click.echo(f"error: {_one_line(exc.format_message())}{hint}", err=True)
            rv = USAGE_EXIT
        except click.ClickException as exc:
            click.echo(f"error: {_one_line(exc.format_message())}", err=True)
            rv = exc.exit_code
        except click.Abort:
            click.echo("Aborted!", err=True)
            rv = 1
        except (ValueError, KeyError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            click.echo(f"error: {_one_line(str(message))}", err=True)
            rv = USAGE_EXIT
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)
