r"""The on-disk cache of user specs' forms: checked text that is compiled only if it is the generator's language.

A user spec's forms (:func:`~nqm.theory.codegen.forms_source`) take seconds to minutes to derive,
so :func:`~nqm.theory.codegen.cached_forms_source` keeps them in
``$NQM_CACHE_DIR/forms/<spec key>.forms`` (default ``~/.cache/nqm-toolkit/forms/``), two parts::

    {"format": "nqm-forms-cache", "version": 2, "key": KEY, "sha256": HASH}
    SOURCE

``SOURCE`` is the text of ``def forms(h, c, B, <hyperparameters>): ... return {...}`` followed by
``def forms_transition(h, c, B, <hyperparameters>): ... return {"n": ..., "D": ..., "b": ..., "init": ...,
"out": ...}`` (version 1 held the first alone), and ``HASH`` the SHA-256 of ``"nqm-forms-cache\n2\nKEY\n"``
followed by the bytes of ``SOURCE`` as stored.

What is guaranteed. Reading an entry never executes code. An entry is compiled only if it
parses, names the requested key (a file copied or renamed to another key is refused), matches
its hash (truncation, bit flips, garbage and edited text are refused) and passes
:func:`check_forms_source`: its syntax tree is exactly of the form the code generator writes (those
two functions of the spec's arguments and nothing else, each made of assignments to new plain
names; arithmetic, comparison and boolean operators on numeric constants, the arguments and names
assigned before in that function; calls only to the fixed set :data:`NUMPY_NAMES` of ``numpy``
functions the generator can write, and ``abs``; a final ``return {"<name>": expression, ...}``, of
exactly the keys :data:`TRANSITION_KEYS` in the second). No import, attribute other than
``numpy.<allowed name>``, subscript, string outside the docstring and the returned keys, loop,
lambda, comprehension or other statement passes. The text is compiled from the tree that was
checked, under a name that is no file (``<nqm forms KEY>``: nothing re-reads the file later), in
a namespace holding only ``numpy`` and ``abs``. A refused or unreadable entry gives a
:class:`FormsCacheWarning` naming the file; the forms are derived afresh and the entry is
overwritten atomically (a temporary file, then a rename). Files of other formats in the folder
(the ``.py`` files of earlier versions) are never read.

What is not. The hash is not keyed with a secret: whoever can write the cache folder can write
forms *with* a matching hash that compute wrong values (or take long: a power of a large
integer is arithmetic), and they will be served. Trust the cache folder as you trust your own
files. Such a forger still cannot make the toolkit run code other than numpy arithmetic.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import os
import re
import stat
import warnings
from pathlib import Path

import numpy
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

__all__ = [
    "NUMPY_NAMES",
    "TRANSITION_KEYS",
    "FormsCacheWarning",
    "RefusedForms",
    "check_forms_source",
    "compile_checked",
    "decode_entry",
    "entry_bytes",
    "load_entry",
    "numpy_printer",
    "store_entry",
    "transition_name",
]

FORMAT = "nqm-forms-cache"
FORMAT_VERSION = 2
#: what the transition function returns: the state dimension and the linear update's entries
#: (``D`` = A - I row-major, ``b``, ``init``, ``out``; :func:`~nqm.theory.codegen.forms_source`)
TRANSITION_KEYS = ("n", "D", "b", "init", "out")
#: an entry larger than this is refused before it is read (the largest generated forms are ~1 MB)
MAX_ENTRY_BYTES = 64 * 2**20


def numpy_printer() -> NumPyPrinter:
    """The printer of the generated code (:func:`~nqm.theory.codegen.forms_source`)."""
    return NumPyPrinter({"fully_qualified_modules": True, "allow_unknown_functions": False})


def _printed_numpy_names() -> frozenset[str]:
    """The ``numpy.<name>`` the printer writes: its known functions and constants, relations,
    ``Piecewise`` (``numpy.select``) and ``Mod``; plus those :func:`forms_source` writes itself."""
    printer = numpy_printer()
    x, y = sp.symbols("x y", real=True)
    samples = (sp.Eq(x, y), sp.Ne(x, y), x < y, x <= y, x > y, x >= y, sp.Mod(x, y),
               sp.Piecewise((x, x > 0), (y, True)))
    texts = [*printer.known_functions.values(), *printer.known_constants.values(), *map(printer.doprint, samples)]
    names = {m for text in texts for m in re.findall(r"\bnumpy\.([A-Za-z_]\w*)\b(?!\.)", text)}
    return frozenset(names | {"asarray", "choose", "greater_equal", "intp"})


#: the ``numpy.<name>`` that generated code may use (called, or as a value such as ``numpy.intp``)
NUMPY_NAMES = _printed_numpy_names()
#: keyword arguments the generator writes (``numpy.asarray(..., dtype=...)``, ``numpy.select(..., default=...)``)
_KEYWORDS = frozenset({"dtype", "default"})
_BIN_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod)
_UNARY_OPS = (ast.USub, ast.UAdd, ast.Not)
_COMPARE_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)
#: the builtins generated code may call (sympy prints ``Abs`` as ``abs``)
_BUILTINS = {"abs": abs}


class FormsCacheWarning(UserWarning):
    """A forms cache entry was refused (unreadable, corrupt, altered, stored under another key, or
    not of the generated form) and the forms are derived afresh, or forms could not be stored."""


class RefusedForms(ValueError):
    """Source text that is not an intact entry, or not of the form the code generator writes."""


def _refuse(node: ast.AST, what: str) -> RefusedForms:
    return RefusedForms(f"line {getattr(node, 'lineno', '?')}: {what} is not allowed in generated forms")


class _Checker:
    """The whitelist of :func:`check_forms_source` over one function's body."""

    def __init__(self, args: list[str]) -> None:
        self.defined = set(args)

    def expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            if type(node.value) not in (int, float, complex, bool) and node.value is not None:
                raise _refuse(node, f"the constant {type(node.value).__name__}")
        elif isinstance(node, ast.Name):
            if node.id not in self.defined:
                raise _refuse(node, f"the name {node.id!r} (not an argument nor assigned before)")
        elif isinstance(node, ast.Attribute):
            self.numpy_attribute(node)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, _BIN_OPS):
            self.expr(node.left)
            self.expr(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, _UNARY_OPS):
            self.expr(node.operand)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self.expr(value)
        elif isinstance(node, ast.Compare) and all(isinstance(op, _COMPARE_OPS) for op in node.ops):
            for value in (node.left, *node.comparators):
                self.expr(value)
        elif isinstance(node, (ast.Tuple, ast.List)) and isinstance(node.ctx, ast.Load):
            for value in node.elts:
                self.expr(value)
        elif isinstance(node, ast.Call):
            self.call(node)
        else:
            raise _refuse(node, type(node).__name__)

    def numpy_attribute(self, node: ast.expr) -> None:
        if not (
            isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load) and isinstance(node.value, ast.Name)
            and node.value.id == "numpy" and node.attr in NUMPY_NAMES
        ):
            raise _refuse(node, f"the attribute {ast.unparse(node)[:60]!r}")

    def call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in _BUILTINS:
            pass
        else:
            self.numpy_attribute(node.func)
        for arg in node.args:
            self.expr(arg)
        for keyword in node.keywords:
            if keyword.arg not in _KEYWORDS:
                raise _refuse(keyword, f"the keyword argument {keyword.arg!r}")
            self.expr(keyword.value)

    def assign(self, node: ast.stmt) -> None:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            raise _refuse(node, f"the statement {type(node).__name__}")
        self.expr(node.value)
        name = node.targets[0].id
        if name in self.defined or name == "numpy" or name in _BUILTINS:
            raise _refuse(node, f"assigning {name!r} again")
        self.defined.add(name)

    def returned(self, node: ast.stmt) -> tuple[str, ...]:
        """The keys of the final ``return {...}``, after checking its values."""
        if not (isinstance(node, ast.Return) and isinstance(node.value, ast.Dict)):
            raise RefusedForms("generated forms end with `return {...}`")
        keys = node.value.keys
        if not all(isinstance(k, ast.Constant) and type(k.value) is str for k in keys):
            raise _refuse(node, "a key other than a string")
        for value in node.value.values:
            self.expr(value)
        return tuple(str(k.value) for k in keys if isinstance(k, ast.Constant))


def transition_name(function_name: str) -> str:
    """The name of the transition function generated next to the forms function ``function_name``."""
    return f"{function_name}_transition"


def check_forms_source(source: str, params: tuple[str, ...], function_name: str = "forms") -> ast.Module:
    """The syntax tree of ``source`` if it is exactly of the generated form (module docstring): the
    functions ``function_name(h, c, B, *params)`` and :func:`transition_name` of it, the latter returning
    exactly the keys :data:`TRANSITION_KEYS`; :class:`RefusedForms` naming the first construct that is
    not. Checked from the tree alone: nothing in ``source`` is ever run."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:  # ValueError: null bytes
        raise RefusedForms(f"not Python ({type(err).__name__})") from None
    names = (function_name, transition_name(function_name))
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    if len(functions) != len(tree.body) or tuple(func.name for func in functions) != names:
        raise RefusedForms(f"generated forms are the functions {names[0]!r} and {names[1]!r} and nothing else")
    forms, transition = functions
    _check_function(forms, params)
    keys = _check_function(transition, params)
    if keys != TRANSITION_KEYS:
        raise _refuse(transition, f"returning {', '.join(keys)} (not {', '.join(TRANSITION_KEYS)})")
    return tree


def _check_function(func: ast.FunctionDef, params: tuple[str, ...]) -> tuple[str, ...]:
    """The keys ``func`` returns if it is one generated function of ``(h, c, B, *params)``;
    :class:`RefusedForms` otherwise."""
    args = func.args
    names = ["h", "c", "B", *params]
    if (
        [a.arg for a in args.args] != names or args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg
        or args.defaults or any(a.annotation for a in args.args) or func.decorator_list or func.returns
        or getattr(func, "type_params", None)
    ):
        raise _refuse(func, f"a signature other than {func.name}({', '.join(names)})")
    body = func.body
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and type(first.value.value) is str:
        body = body[1:]  # the docstring
    if not body:
        raise RefusedForms("generated forms end with `return {...}`")
    checker = _Checker(names)
    try:
        for statement in body[:-1]:
            checker.assign(statement)
        return checker.returned(body[-1])
    except RecursionError:
        raise RefusedForms("nested too deeply") from None


def compile_checked(tree: ast.Module, key: str) -> dict[str, object]:
    """The namespace after running the (checked) function definition ``tree``: only ``numpy`` and
    ``abs`` are visible to it, and its code names no file (``<nqm forms KEY>``)."""
    namespace: dict[str, object] = {"__builtins__": dict(_BUILTINS), "numpy": numpy}
    exec(compile(tree, f"<nqm forms {key}>", "exec"), namespace)  # noqa: S102 - a def of checked generated code
    return namespace


def _digest(key: str, body: bytes) -> str:
    digest = hashlib.sha256(f"{FORMAT}\n{FORMAT_VERSION}\n{key}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def entry_bytes(key: str, source: str) -> bytes:
    """The file contents that store ``source`` under ``key``."""
    body = source.encode()
    header = {"format": FORMAT, "version": FORMAT_VERSION, "key": key, "sha256": _digest(key, body)}
    return json.dumps(header).encode() + b"\n" + body


def decode_entry(key: str, contents: bytes) -> str:
    """The source stored in ``contents`` for ``key``; :class:`RefusedForms` if the contents are not
    an intact entry written for that key (the whitelist is checked separately)."""
    first, newline, body = contents.partition(b"\n")
    try:
        header = json.loads(first.decode())
    except ValueError:  # also UnicodeDecodeError
        raise RefusedForms("not a forms cache entry") from None
    if not newline or not isinstance(header, dict) or set(header) != {"format", "version", "key", "sha256"}:
        raise RefusedForms("not a forms cache entry")
    if header["format"] != FORMAT or header["version"] != FORMAT_VERSION:
        raise RefusedForms("an unknown format or version")
    if header["key"] != key:
        raise RefusedForms(f"stored for another key ({str(header['key'])[:16]}...)")
    if header["sha256"] != _digest(key, body):
        raise RefusedForms("its contents do not match their hash (altered or damaged)")
    try:
        return body.decode()
    except UnicodeDecodeError:
        raise RefusedForms("not UTF-8 text") from None


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most :data:`MAX_ENTRY_BYTES`; ``OSError``
    otherwise (never blocks on a FIFO nor reads a device a link in the cache folder points to)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path} is not a regular file")
        if info.st_size > MAX_ENTRY_BYTES:
            raise OSError(f"{path} is larger than {MAX_ENTRY_BYTES} bytes")
        return fh.read(MAX_ENTRY_BYTES + 1)


def load_entry(path: Path, key: str, params: tuple[str, ...]) -> tuple[str, ast.Module] | None:
    """The checked source and tree of the entry at ``path`` for ``key``, or ``None``: a missing file
    silently, a refused or unreadable one with a :class:`FormsCacheWarning` naming the file."""
    try:
        contents = _read_regular_file(path)
    except FileNotFoundError:
        return None
    except (OSError, MemoryError) as err:
        warnings.warn(f"cannot read forms cache entry {path} ({err}); deriving the forms again",
                      FormsCacheWarning, stacklevel=3)
        return None
    try:
        if len(contents) > MAX_ENTRY_BYTES:
            raise RefusedForms(f"larger than {MAX_ENTRY_BYTES} bytes")
        source = decode_entry(key, contents)
        return source, check_forms_source(source, params)
    except RefusedForms as err:
        warnings.warn(f"refusing forms cache entry {path}: {err}; deriving the forms again",
                      FormsCacheWarning, stacklevel=3)
        return None


def store_entry(path: Path, key: str, source: str) -> None:
    """Write the entry of ``source`` under ``key`` to ``path`` atomically; a folder that cannot be
    written costs only the derivation next time (no warning: e.g. a read-only home)."""
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(entry_bytes(key, source))
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
