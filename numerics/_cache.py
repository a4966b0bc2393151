r"""The on-disk result cache: plain JSON that cannot run code, checked against its task's key.

One file per task, ``<directory>/<namespace>/<key[:2]>/<key>.json``, of two lines of JSON::

    {"format": "nqm-result-cache", "version": 1, "key": KEY, "sha256": HASH}
    DATA

``DATA`` is the result in the typed plain form of :func:`to_plain` (every Python and numpy type
the toolkit's tasks return, exactly: tuples stay tuples, floats keep every bit, arrays keep dtype
and shape) and ``HASH`` is the SHA-256 of ``"nqm-result-cache\n1\nKEY\n"`` followed by the bytes
of ``DATA`` as stored (so checking it needs no re-serialisation).

What is guaranteed. Reading an entry never executes code: it is parsed as strict JSON and
rebuilt only from plain values, numeric arrays of a fixed list of dtypes and the result types
registered with :func:`register_result_type` (a whitelist; no type is ever looked up by a name
found in a file). An entry is served only if it parses, names the requested key (so a file
copied or renamed to another key is refused) and matches its hash (so truncation, bit flips,
garbage and edited values are refused). A refused or unreadable entry is recomputed and
overwritten, with a :class:`CacheWarning` naming the file; it never ends the run.

What is not. The hash is not keyed with a secret: whoever can write the cache folder can write
an altered result *with* a matching hash, and it will be served. Trust the cache folder as you
trust your own files (it lives in your home by default), and do not point ``cache=`` at a folder
others can write. Such a forger still cannot make the toolkit run code.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = ["CacheWarning", "ResultCache", "default_cache_dir", "from_plain", "register_result_type", "to_plain"]

FORMAT = "nqm-result-cache"
FORMAT_VERSION = 1

#: the numpy dtypes an array or scalar in a cached result may have (little-endian byte strings)
_DTYPES = frozenset(np.dtype(name).str for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
))
_KEY = re.compile(r"[0-9a-f]{64}")

C = TypeVar("C", bound=type)


class CacheWarning(UserWarning):
    """A cache entry was refused (unreadable, corrupt, altered, or stored under another key) and
    its task is recomputed, or a result could not be stored."""


class CorruptEntry(ValueError):
    """A cache file that is not a valid entry for the requested key."""


@dataclass(frozen=True)
class _Codec:
    cls: type
    to_fields: Callable[[Any], dict[str, Any]]
    from_fields: Callable[[dict[str, Any]], Any]


_BY_TAG: dict[str, _Codec] = {}
_TAG_OF: dict[type, str] = {}


def register_result_type(
    cls: C,
    *,
    to_fields: Callable[[Any], dict[str, Any]] | None = None,
    from_fields: Callable[[dict[str, Any]], Any] | None = None,
) -> C:
    """Allow instances of ``cls`` in cached results (the whitelist of :func:`from_plain`).

    A dataclass needs nothing more: it is stored as its ``init`` fields and rebuilt by
    ``cls(**fields)``. Any other class gives ``to_fields(obj) -> dict[str, value]`` and
    ``from_fields(dict) -> obj``; the values may be anything :func:`to_plain` stores. The tag
    written to the file is ``cls.__qualname__``; it is only ever compared with this registry.
    """
    if (to_fields is None) != (from_fields is None):
        raise ValueError("to_fields and from_fields must be given together")
    if to_fields is None or from_fields is None:  # both None (checked above)
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"cls: {cls.__qualname__} is not a dataclass; give to_fields and from_fields")
        names = tuple(f.name for f in dataclasses.fields(cls) if f.init)

        def to_fields(obj: Any) -> dict[str, Any]:
            return {name: getattr(obj, name) for name in names}

        def from_fields(fields: dict[str, Any]) -> Any:
            return cls(**fields)
    tag = cls.__qualname__
    known = _BY_TAG.get(tag)
    if known is not None and known.cls.__module__ != cls.__module__:  # the same module reloaded may replace it
        raise ValueError(f"cls: {known.cls.__module__}.{tag} is already registered as {tag!r}")
    _BY_TAG[tag] = _Codec(cls, to_fields, from_fields)
    _TAG_OF[cls] = tag
    return cls


def _bytes_form(value: np.ndarray | np.generic) -> dict[str, Any]:
    array = np.asarray(value)
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    if dtype.str not in _DTYPES:
        raise TypeError(f"cannot cache a numpy value of dtype {array.dtype}")
    data = np.ascontiguousarray(array, dtype=dtype).tobytes()
    return {"dtype": dtype.str, "shape": list(array.shape), "data": base64.b64encode(data).decode("ascii")}


def to_plain(value: Any) -> Any:
    """``value`` as JSON data that :func:`from_plain` turns back into an equal value of the same types.

    ``None``, ``bool``, ``int``, ``str`` and finite ``float`` are themselves (Python's JSON writes a
    float's shortest round-tripping repr); lists are lists. Everything else is a one-key object:
    ``{"float": "inf"|"-inf"|"nan"}``, ``{"tuple": [...]}``, ``{"dict": [[key, value], ...]}``
    (any keys), ``{"array": {dtype, shape, data}}`` and ``{"scalar": {...}}`` for numpy values (raw
    little-endian bytes in base64, so every bit is kept) and ``{"object": tag, "fields": ...}``
    for a registered result type. Anything else is a ``TypeError``.
    """
    if value is None or type(value) in (bool, int, str):  # exact types: a subclass would come back as its base
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if type(value) is list:
        return [to_plain(v) for v in value]
    if type(value) is tuple:
        return {"tuple": [to_plain(v) for v in value]}
    if type(value) is dict:
        return {"dict": [[to_plain(k), to_plain(v)] for k, v in value.items()]}
    if type(value) is np.ndarray:
        return {"array": _bytes_form(value)}
    if isinstance(value, np.generic):
        return {"scalar": _bytes_form(value)}
    tag = _TAG_OF.get(type(value))
    if tag is None:
        raise TypeError(
            f"cannot cache a result of type {type(value).__qualname__}; register it with register_result_type"
        )
    fields = _BY_TAG[tag].to_fields(value)
    return {"object": tag, "fields": {str(k): to_plain(v) for k, v in fields.items()}}


def _from_bytes_form(form: Any) -> np.ndarray:
    if not isinstance(form, dict) or set(form) != {"dtype", "shape", "data"}:
        raise CorruptEntry("a numpy value needs exactly dtype, shape and data")
    dtype, shape, data = form["dtype"], form["shape"], form["data"]
    if dtype not in _DTYPES:
        raise CorruptEntry(f"dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise CorruptEntry("shape must be a list of non-negative integers")
    if not isinstance(data, str):
        raise CorruptEntry("data must be a base64 string")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    if len(raw) != math.prod(shape) * np.dtype(dtype).itemsize:
        raise CorruptEntry("data does not have the size that dtype and shape give")
    return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()


def from_plain(data: Any) -> Any:
    """The value :func:`to_plain` made ``data`` from; :class:`CorruptEntry` for anything it cannot have made."""
    if data is None or isinstance(data, (bool, str, int, float)):
        return data
    if isinstance(data, list):
        return [from_plain(v) for v in data]
    if not isinstance(data, dict):
        raise CorruptEntry(f"unexpected {type(data).__name__}")
    if set(data) == {"object", "fields"}:
        return _from_object(data["object"], data["fields"])
    if len(data) != 1:
        raise CorruptEntry(f"unexpected object with keys {sorted(data)[:4]}")
    tag, body = next(iter(data.items()))
    if tag == "float" and body in ("inf", "-inf", "nan"):
        return float(body)
    if tag == "tuple" and isinstance(body, list):
        return tuple(from_plain(v) for v in body)
    if tag == "dict" and isinstance(body, list) and all(isinstance(kv, list) and len(kv) == 2 for kv in body):
        return {_hashable(from_plain(k)): from_plain(v) for k, v in body}
    if tag == "array":
        return _from_bytes_form(body)
    if tag == "scalar":
        array = _from_bytes_form(body)
        if array.shape != ():
            raise CorruptEntry("a numpy scalar has shape []")
        return array[()]
    raise CorruptEntry(f"unexpected {tag[:40]!r} object")


def _from_object(tag: Any, fields: Any) -> Any:
    """A registered result type's instance: the whitelist is the registry, never a name lookup."""
    codec = _BY_TAG.get(tag) if isinstance(tag, str) else None
    if codec is None:
        raise CorruptEntry(f"{str(tag)[:40]!r} is not a registered result type")
    if not isinstance(fields, dict):
        raise CorruptEntry("the fields of a result type are an object")
    return codec.from_fields({k: from_plain(v) for k, v in fields.items()})


def _hashable(key: Any) -> Any:
    try:
        hash(key)
    except TypeError:
        raise CorruptEntry("a dict key must be hashable") from None
    return key


def _digest(key: str, data: bytes) -> str:
    digest = hashlib.sha256(f"{FORMAT}\n{FORMAT_VERSION}\n{key}\n".encode())
    digest.update(data)
    return digest.hexdigest()


def _reject_constant(name: str) -> Any:
    raise CorruptEntry(f"{name} is not strict JSON")


def _loads(text: bytes) -> Any:
    try:
        return json.loads(text.decode("utf-8"), parse_constant=_reject_constant)
    except RecursionError:
        raise CorruptEntry("nested too deeply") from None
    except ValueError as err:  # also UnicodeDecodeError, JSONDecodeError
        raise CorruptEntry(f"not JSON ({err})") from None


def entry_bytes(key: str, data: Any) -> bytes:
    """The file contents that store the plain ``data`` (as :func:`to_plain` gives) under ``key``."""
    body = json.dumps(data, allow_nan=False, separators=(",", ":")).encode()
    header = {"format": FORMAT, "version": FORMAT_VERSION, "key": key, "sha256": _digest(key, body)}
    return json.dumps(header).encode() + b"\n" + body


def encode_entry(key: str, value: Any) -> bytes:
    """The file contents that store ``value`` under ``key`` (``TypeError`` for an unstorable value)."""
    return entry_bytes(key, to_plain(value))


def decode_entry(key: str, contents: bytes) -> Any:
    """The value stored in ``contents`` for ``key``; :class:`CorruptEntry` (a ``ValueError``) if
    the contents are not an intact entry written for that key."""
    first, newline, body = contents.partition(b"\n")
    header = _loads(first)
    if not newline or not isinstance(header, dict) or set(header) != {"format", "version", "key", "sha256"}:
        raise CorruptEntry("not a cache entry")
    if header["format"] != FORMAT or header["version"] != FORMAT_VERSION:
        raise CorruptEntry("an unknown format or version")
    if header["key"] != key:
        raise CorruptEntry(f"stored for another key ({str(header['key'])[:16]}...)")
    if header["sha256"] != _digest(key, body):
        raise CorruptEntry("its contents do not match their hash (altered or damaged)")
    try:
        return from_plain(_loads(body))
    except RecursionError:
        raise CorruptEntry("nested too deeply") from None
    except (ValueError, TypeError, KeyError) as err:  # a registered type refusing its fields, bad base64
        raise CorruptEntry(f"a result that cannot be rebuilt ({err})") from None


def _read_regular_file(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file; ``OSError`` otherwise (never blocks on a FIFO
    nor reads a device such as ``/dev/zero`` that a link in the cache folder could point to)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return fh.read()


def default_cache_dir() -> Path:
    """``$NQM_CACHE_DIR`` or ``~/.cache/nqm-toolkit``, subfolder ``results``."""
    return Path(os.environ.get("NQM_CACHE_DIR", Path.home() / ".cache" / "nqm-toolkit")) / "results"


class ResultCache:
    """Finished results on disk, one JSON file per configuration key, written atomically.

    See :mod:`nqm.numerics._cache` for the file format and for what the integrity check does and
    does not guarantee. Files of other formats in the folder (e.g. the ``.pkl`` files of earlier
    versions) are never read.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, namespace: str = "default") -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.directory = self.directory / namespace

    def path(self, key: str) -> Path:
        """The file of ``key`` (a lowercase hex SHA-256, as :func:`~nqm.numerics._parallel.config_key` gives)."""
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(f"key must be 64 lowercase hexadecimal digits; got {key!r}")
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` for an intact entry of ``key``, else ``(False, None)``.

        A missing file is simply a miss; an unreadable, corrupt, altered or misplaced one is a
        miss with a :class:`CacheWarning` naming the file (the caller recomputes and overwrites it).
        """
        path = self.path(key)
        try:
            contents = _read_regular_file(path)
        except FileNotFoundError:
            return False, None
        except (OSError, MemoryError) as err:
            warnings.warn(f"cannot read cache entry {path} ({err}); recomputing it", CacheWarning, stacklevel=2)
            return False, None
        try:
            return True, decode_entry(key, contents)
        except CorruptEntry as err:
            warnings.warn(f"refusing cache entry {path}: {err}; recomputing it", CacheWarning, stacklevel=2)
            return False, None

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` (a temporary file, then a rename). A value of a type the
        cache cannot store, or a folder that cannot be written, gives a :class:`CacheWarning` and
        stores nothing: the run goes on."""
        path = self.path(key)
        try:
            contents = encode_entry(key, value)
        except TypeError as err:
            warnings.warn(f"not caching {path.name}: {err}", CacheWarning, stacklevel=2)
            return
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(contents)
            tmp.replace(path)
        except OSError as err:
            warnings.warn(f"cannot write cache entry {path} ({err})", CacheWarning, stacklevel=2)
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
