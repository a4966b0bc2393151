"""The disk cache of a user spec's forms never runs code from a file: an entry is compiled only if
it is intact, stored for its spec's key and of exactly the generated form; anything else is refused
with a warning naming the file, derived again and overwritten (nqm.theory._forms_cache)."""

from __future__ import annotations

import ast
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import nqm.numerics
from nqm.numerics._generated import FORMS
from nqm.theory import LR, Hyperparameter, OptimizerSpec, _codegen, _forms_cache
from nqm.theory._forms_cache import (
    TRANSITION_KEYS,
    RefusedForms,
    check_forms_source,
    decode_entry,
    entry_bytes,
    transition_name,
)
from nqm.theory.codegen import (
    FormsCacheWarning,
    cached_forms_source,
    compile_forms,
    compile_transition,
    forms_source,
)

WD = Hyperparameter("wd", sp.Symbol("omega", real=True), 0.0, 1.0, True, False, "weight decay")


def _decay(grad, theta, lr, wd):
    return ((1 - wd) * theta - lr * grad(theta),)


def _sgd(grad, theta, lr):
    return (theta - lr * grad(theta),)


#: one state, a unit-interval hyperparameter: the generated code uses numpy.choose, asarray, intp
SPEC = OptimizerSpec.from_update("forms_cache_decay", _decay, state=("theta",), hyperparameters=(LR, WD))
OTHER = OptimizerSpec.from_update("forms_cache_sgd", _sgd, state=("theta",), hyperparameters=(LR,))
ARGS = (np.array([1.0, 1e-3]), np.array([0.5, 2.0]), 4.0, np.array([[0.1], [0.4]]), np.array([[0.0], [0.9]]))


def _clear() -> None:
    _codegen._compiled.cache_clear()
    _codegen._checked_forms.cache_clear()


@pytest.fixture
def cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A fresh cache folder holding a valid entry of SPEC; no forms of SPEC or OTHER in memory."""
    monkeypatch.setenv("NQM_CACHE_DIR", str(tmp_path / "cache"))
    _clear()
    compile_forms(SPEC)
    _clear()
    yield tmp_path / "cache" / "forms"
    _clear()


@pytest.fixture
def system_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every os.system call (recorded, never run): a tampered entry that runs code calls it."""
    calls: list[str] = []
    monkeypatch.setattr(os, "system", calls.append)
    return calls


def _path(spec: OptimizerSpec, suffix: str = ".forms") -> Path:
    return _codegen._cache_dir() / f"{_codegen._spec_key(spec)}{suffix}"


def _with_statement(source: str, statement: str, function: str = "forms") -> str:
    """``source`` with ``statement`` as the first statement of ``function`` after its docstring."""
    lines = source.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith(f"def {function}(")) + 2
    return "".join(lines[:at]) + f"    {statement}\n" + "".join(lines[at:])


def _with_transition_entry(source: str, entry: str) -> str:
    """``source`` with ``entry`` added last to the dict the transition function returns."""
    head, _, tail = source.rpartition("    }\n")
    return f"{head}        {entry},\n    }}\n{tail}"


def _valid_source() -> str:
    return forms_source(SPEC)


def _forged(source: str) -> bytes:
    """An entry of ``source`` for SPEC's key with a matching hash (what any writer of the folder can make)."""
    return entry_bytes(_codegen._spec_key(SPEC), source)


#: name -> the bytes of a tampered entry of SPEC
TAMPERED = {
    "os.system at module level": lambda: _forged('import os\nos.system("pwned")\n' + _valid_source()),
    "__import__ in the function": lambda: _forged(
        _with_statement(_valid_source(), '_x = __import__("os").system("pwned")')
    ),
    "attribute access": lambda: _forged(_with_statement(_valid_source(), '_x = numpy.f2py.os.system("pwned")')),
    "an import": lambda: _forged(_with_statement(_valid_source(), 'import os; _x = os.system("pwned")')),
    "a changed constant with the old hash": lambda: _forged(_valid_source()).replace(b"1.0 - wd", b"2.0 - wd"),
    "__import__ in the transition function": lambda: _forged(
        _with_statement(_valid_source(), '_x = __import__("os").system("pwned")', "forms_transition")
    ),
    "a call to the forms in the transition function": lambda: _forged(
        _with_statement(_valid_source(), "_x = forms(h, c, B, lr, wd)", "forms_transition")
    ),
    "a transition function returning more": lambda: _forged(_with_transition_entry(_valid_source(), "'Sbar': (h,)")),
    "the transition function left out": lambda: _forged(_valid_source().partition("\n\ndef forms_transition(")[0]),
    "a file copied from another key": lambda: entry_bytes(_codegen._spec_key(OTHER), forms_source(OTHER)),
    "truncated": lambda: _forged(_valid_source())[:-200],
    "garbage": lambda: b"\x00\xffnot an entry\n\x13",
}


@pytest.mark.parametrize("name", TAMPERED)
def test_a_tampered_entry_is_refused_never_run_and_replaced(
    cache_dir: Path, system_calls: list[str], name: str
) -> None:
    contents = TAMPERED[name]()
    assert contents != _path(SPEC).read_bytes()
    _path(SPEC).write_bytes(contents)
    _path(SPEC, ".py").write_bytes(b"import numpy\n\n" + contents)  # the old format: never read
    with pytest.warns(FormsCacheWarning, match=re.escape(str(_path(SPEC)))):
        fn = compile_forms(SPEC)
    fn(*ARGS)
    assert set(compile_transition(SPEC)(*ARGS)) == set(TRANSITION_KEYS)
    assert system_calls == []
    fresh = _valid_source()
    assert cached_forms_source(SPEC) == fresh
    assert decode_entry(_codegen._spec_key(SPEC), _path(SPEC).read_bytes()) == fresh  # overwritten
    _clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cached_forms_source(SPEC) == fresh  # the new entry is served


def test_a_valid_entry_is_served_without_deriving(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def derive_again(*args: object, **kwargs: object) -> str:
        raise AssertionError("derived again")

    expected = _valid_source()
    monkeypatch.setattr(_codegen, "forms_source", derive_again)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn = compile_forms(SPEC)
    assert cached_forms_source(SPEC) == expected
    assert fn.__code__.co_filename.startswith("<nqm forms ")  # no file for anything to re-read


def test_fresh_forms_outside_the_whitelist_are_used_but_never_stored(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Derived forms the whitelist would refuse (a printer construct it does not know) are compiled
    from memory as derived, with a warning, and not stored: a stored one would be refused at every run."""
    outside = _with_statement(_valid_source(), "_x = numpy.maximum(h, c)")
    monkeypatch.setattr(_codegen, "forms_source", lambda spec: outside)
    _path(SPEC).unlink()
    with pytest.warns(FormsCacheWarning, match="not caching"):
        fn = compile_forms(SPEC)
    assert cached_forms_source(SPEC) == outside and not _path(SPEC).exists()
    fn(*ARGS)


def test_an_entry_of_the_previous_format_is_never_read(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry of format 1 (the forms function alone) lies under another key, the key holding the format
    version: a spec with only such an entry is derived afresh without a warning, the old file untouched."""
    with monkeypatch.context() as patch:
        patch.setattr(_codegen, "FORMAT_VERSION", 1)
        patch.setattr(_forms_cache, "FORMAT_VERSION", 1)
        old_path = _path(SPEC)
        old = entry_bytes(_codegen._spec_key(SPEC), _valid_source().partition("\n\ndef forms_transition(")[0])
    assert old_path != _path(SPEC)
    old_path.write_bytes(old)
    _path(SPEC).unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile_transition(SPEC)(*ARGS)
    assert old_path.read_bytes() == old
    assert decode_entry(_codegen._spec_key(SPEC), _path(SPEC).read_bytes()) == _valid_source()


def test_the_transition_function_never_rereads_the_cache_file(cache_dir: Path, system_calls: list[str]) -> None:
    """compile_transition gives the function compiled with the forms from the checked text in memory:
    a file changed after the forms were compiled is not read again, and its values are the forms'."""
    fn = compile_forms(SPEC)
    tampered = _with_statement(_valid_source(), '_x = __import__("os").system("pwned")', "forms_transition")
    for path in (_path(SPEC), _path(SPEC, ".py")):
        path.write_text("import numpy\n\n" + tampered)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got, full = compile_transition(SPEC)(*ARGS), fn(*ARGS)
    assert system_calls == []
    assert tuple(got) == TRANSITION_KEYS and got["n"] == full["n"]
    for key in TRANSITION_KEYS[1:]:
        for a, b in zip(got[key], full[key], strict=True):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- the whitelist is the generator's language
def _builtin_functions() -> Iterator[tuple[str, str, tuple[str, ...]]]:
    text = (Path(nqm.numerics.__file__).parent / "_generated.py").read_text()
    functions = {node.name: node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}
    for name, (params, *_) in FORMS.items():
        sources = [ast.get_source_segment(text, functions[f]) for f in (f"_{name}", transition_name(f"_{name}"))]
        assert None not in sources
        yield f"_{name}", "\n\n".join(sources) + "\n", tuple(params)  # type: ignore[arg-type]


def test_every_built_in_generated_function_passes_the_whitelist() -> None:
    checked = 0
    for function_name, source, params in _builtin_functions():
        check_forms_source(source, params, function_name)
        checked += 1
    assert checked == len(FORMS) > 0


VALID = (
    "def forms(h, c, B, lr):\n    '''doc'''\n    x = numpy.sqrt(h*lr)\n    return {'n': 1, 'D': (-x,), 'init': None}\n"
    "\n\ndef forms_transition(h, c, B, lr):\n    y = h*lr\n    return {'n': 1, 'D': (-y,), 'b': (-lr,), 'init': (1,), "
    "'out': (1,)}\n"
)


@pytest.mark.parametrize(
    "source",
    [
        VALID.replace("numpy.sqrt(h*lr)", "numpy.load(h)"),  # a numpy function the generator never writes
        VALID.replace("numpy.sqrt(h*lr)", "numpy.linalg.inv(h)"),  # an attribute chain
        VALID.replace("numpy.sqrt(h*lr)", "h.real"),  # an attribute of a value
        VALID.replace("numpy.sqrt(h*lr)", "h[0]"),  # a subscript
        VALID.replace("numpy.sqrt(h*lr)", "'text'"),  # a string outside the keys and the docstring
        VALID.replace("numpy.sqrt(h*lr)", "(lambda: h)()"),
        VALID.replace("numpy.sqrt(h*lr)", "[v for v in h]"),
        VALID.replace("numpy.sqrt(h*lr)", "numpy.sqrt(*h)"),
        VALID.replace("numpy.sqrt(h*lr)", "f'{h}'"),
        VALID.replace("numpy.sqrt(h*lr)", "(y := h)"),
        VALID.replace("numpy.sqrt(h*lr)", "h if lr else c"),
        VALID.replace("numpy.sqrt(h*lr)", "numpy.asarray(h, like=h)"),  # a keyword the generator never writes
        VALID.replace("numpy.sqrt(h*lr)", "open"),  # a name neither an argument nor assigned before
        VALID.replace("x = numpy.sqrt(h*lr)", "numpy = h"),  # rebinding numpy
        VALID.replace("x = numpy.sqrt(h*lr)", "with h: pass"),
        VALID.replace("x = numpy.sqrt(h*lr)", "for x in h: pass"),
        VALID.replace("x = numpy.sqrt(h*lr)", "try:\n        x = h\n    except Exception:\n        pass"),
        VALID.replace("x = numpy.sqrt(h*lr)", "x = h; del x"),
        VALID.replace("'D': (-x,)", "**h"),  # a spread, not a string key
        VALID.replace("def forms(h, c, B, lr)", "def forms(h, c, B, lr=1)"),
        VALID.replace("def forms(h, c, B, lr)", "def forms(h, c, B, *lr)"),
        VALID.replace("def forms(h, c, B, lr)", "def forms(h, c, B, wd)"),  # not the spec's arguments
        "@numpy.sqrt\n" + VALID,
        VALID + "x = 1\n",  # anything besides the functions
        VALID.partition("\n\n")[0] + "\n",  # the transition function left out
        VALID.replace("y = h*lr", "y = x"),  # a name of the forms function
        VALID.replace("y = h*lr", "y = forms(h, c, B, lr)"),  # a call to the forms function
        VALID.replace("'out': (1,)}", "'out': (1,), 'Sbar': (1,)}"),  # more than the transition's keys
        VALID.replace("'b': (-lr,), ", ""),  # fewer
        VALID.replace("def forms_transition(h, c, B, lr)", "def forms_transition(h, c, B)"),
        VALID.replace("def forms_transition(", "def transition("),
        "\n\n".join(reversed(VALID.split("\n\n\n"))),  # the two in the other order
        "import os\n" + VALID,
    ],
)
def test_anything_outside_the_generated_form_is_refused(source: str) -> None:
    check_forms_source(VALID, ("lr",))
    with pytest.raises(RefusedForms):
        check_forms_source(source, ("lr",))
