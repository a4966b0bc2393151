"""Result tables: the one path from a result object to pandas, xarray, CSV, JSON and HTML.

A result class mixes in :class:`Tabular` and describes its tables: :meth:`Tabular._tables` lists
the tables it holds (the first is the default), each with the columns that index it (its *axes*),
:meth:`Tabular._columns` gives a table as equal-length columns, one row per observation, and
:meth:`Tabular._meta` the scalars that describe the whole result (optimizer, target, ...).
Everything else is derived here:

* :meth:`Tabular.to_pandas` -- a tidy ``DataFrame`` (``DataFrame.attrs`` holds the scalars);
* :meth:`Tabular.to_xarray` -- one ``Dataset``: every table with axes, indexed by them (tables
  sharing an axis share its coordinate; one-row tables and the scalars become ``attrs``);
* :meth:`Tabular.to_csv` / :meth:`Tabular.to_json` -- to a path, a text stream, or a string
  (:meth:`Tabular.to_dict`: the JSON document as plain data);
* :meth:`Tabular._repr_html_` -- the default table in Jupyter.

pandas and xarray are optional (the ``tables`` extra) and imported only by the methods that
need them. CSV and JSON need neither. CSV cells are written by :func:`csv_cell`: integral
floats (steps, batch sizes) as integers, ``inf``/``-inf``/``nan`` spelled so, other floats in
their shortest round-trip form, so a CSV read back gives the same numbers.
"""

from __future__ import annotations

import csv
import html
import importlib
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._jsonio import json_ready

__all__ = ["INSTALL_TABLES", "Tabular", "csv_cell", "csv_text", "html_table", "records_csv", "records_to_columns",
           "require", "write_text"]

#: how to install the optional libraries of this module
INSTALL_TABLES = 'pip install "nqm-toolkit[tables]"'
#: integral floats of smaller magnitude are written as integers (every such float is an exact integer)
_EXACT_INT = 2.0**53
#: rows shown by :meth:`Tabular._repr_html_` at each end of a longer table
_HTML_ROWS = 30

#: a column of a table: a list or a 1-D array
Column = Sequence[Any] | np.ndarray
Columns = dict[str, Column]
Target = str | Path | IO[str] | None


def require(module: str, purpose: str) -> Any:
    """Import the optional ``module`` (``"pandas"``, ``"xarray"``), or ``ImportError`` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{purpose} needs {module}: {INSTALL_TABLES}") from exc


def csv_cell(value: Any) -> Any:
    """One CSV cell: an integral float of magnitude below 2**53 as an ``int`` (``64.0`` -> ``64``),
    non-finite floats as ``inf``, ``-inf``, ``nan``, numpy scalars as Python values, the rest as is."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < _EXACT_INT:
            return int(value)
    return value


def csv_text(columns: Mapping[str, Column]) -> str:
    """CSV text (header, then one line per row) of equal-length ``columns``, cells by :func:`csv_cell`."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(columns))
    writer.writerows(zip(*([csv_cell(v) for v in col] for col in columns.values())))
    return buffer.getvalue()


def records_to_columns(records: Sequence[Mapping[str, Any]]) -> Columns:
    """Columns (the union of keys, first-seen order; missing cells ``None``) of a list of records."""
    names = list(dict.fromkeys(k for r in records for k in r))
    return {k: [r.get(k) for r in records] for k in names}


def records_csv(records: Sequence[Mapping[str, Any]]) -> str:
    """:func:`csv_text` of a list of records (missing cells empty; the header ``empty`` when there are no columns)."""
    return csv_text(records_to_columns(records) or {"empty": []})


def write_text(text: str, path: Target) -> Path | str | None:
    """Deliver ``text``: to the file ``path`` (returns its ``Path``), to an open text stream
    (returns ``None``), or, for ``path=None``, return it as a string."""
    if path is None:
        return text
    if hasattr(path, "write"):
        path.write(text)
        return None
    if not isinstance(path, (str, Path)):
        raise ValueError(f"path must be a file path, an open text stream or None; got {type(path).__name__}")
    out = Path(path)
    with out.open("w", newline="") as fh:
        fh.write(text)
    return out


def _html_cell(value: Any) -> str:
    value = csv_cell(value)
    if isinstance(value, float):
        value = f"{value:.6g}"
    return html.escape(str(value))


def html_table(columns: Mapping[str, Column], caption: str) -> str:
    """An escaped HTML table of ``columns`` under ``caption``: pandas' ``to_html`` when pandas is
    installed, else a plain ``<table>``; long tables show their first and last rows."""
    title = f"<p><b>{html.escape(caption)}</b></p>"
    try:
        import pandas as pd
    except ImportError:
        n = len(next(iter(columns.values()), ()))
        rows = list(range(n)) if n <= 2 * _HTML_ROWS else [*range(_HTML_ROWS), -1, *range(n - _HTML_ROWS, n)]
        head = "".join(f"<th>{html.escape(str(k))}</th>" for k in columns)
        body = "".join(
            "<tr>" + ("".join(f"<td>{_html_cell(col[i])}</td>" for col in columns.values()) if i >= 0
                      else f'<td colspan="{len(columns)}">... ({n - 2 * _HTML_ROWS} rows) ...</td>') + "</tr>"
            for i in rows
        )
        return f"<div>{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    frame = pd.DataFrame(dict(columns))
    return f"<div>{title}{frame.to_html(max_rows=2 * _HTML_ROWS, index=False, escape=True)}</div>"


class Tabular:
    """Mixin of the toolkit's result classes: tidy tables to pandas, xarray, CSV, JSON and HTML.

    A subclass implements :meth:`_tables` (table name -> its axes, the default first),
    :meth:`_columns` and, if it has any, :meth:`_meta`.
    """

    def _tables(self) -> dict[str, tuple[str, ...]]:
        """The tables this result holds, the default first, each with the columns that index it."""
        raise NotImplementedError

    def _columns(self, table: str) -> Columns:
        """Table ``table`` as equal-length columns, one row per observation."""
        raise NotImplementedError

    def _meta(self) -> dict[str, Any]:
        """Scalars describing the whole result (``DataFrame.attrs``, ``Dataset.attrs``, the JSON header)."""
        return {}

    def _json_doc(self) -> dict[str, Any]:
        """The JSON document: the scalars of :meth:`_meta` and every table as a list of records."""
        tables = {name: self._records(name) for name in self._tables()}
        return {**self._meta(), **tables}

    # ------------------------------------------------------------------ derived
    def _table(self, table: str | None) -> tuple[str, Columns]:
        tables = self._tables()
        name = next(iter(tables)) if table is None else table
        if name not in tables:
            raise ValueError(f"table must be one of {', '.join(map(repr, tables))} for this "
                             f"{type(self).__name__}; got {table!r}")
        return name, self._columns(name)

    def _records(self, table: str) -> list[dict[str, Any]]:
        columns = self._columns(table)
        return [dict(zip(columns, row)) for row in zip(*columns.values())]

    def to_pandas(self, table: str | None = None) -> Any:
        """A tidy ``pandas.DataFrame`` of ``table`` (default: the first; see the class docstring),
        one row per observation, with the result's scalars in ``DataFrame.attrs``. Needs pandas
        (``pip install "nqm-toolkit[tables]"``)."""
        pd = require("pandas", f"{type(self).__name__}.to_pandas()")
        _, columns = self._table(table)
        frame = pd.DataFrame({k: list(v) if not isinstance(v, np.ndarray) else v for k, v in columns.items()})
        frame.attrs.update(self._meta())
        return frame

    def to_xarray(self) -> Any:
        """An ``xarray.Dataset``: every table with axes, indexed by them (tables sharing an axis share
        its coordinate); one-row tables and the result's scalars go into ``Dataset.attrs``. Needs
        pandas and xarray (``pip install "nqm-toolkit[tables]"``)."""
        require("pandas", f"{type(self).__name__}.to_xarray()")
        xr = require("xarray", f"{type(self).__name__}.to_xarray()")
        meta = {k: v for k, v in self._meta().items() if v is not None}
        attrs = dict(meta)
        parts = []
        for name, axes in self._tables().items():
            frame = self.to_pandas(name)
            if not axes:
                attrs.update({k: v for k, v in frame.iloc[0].items() if k not in attrs and v is not None})
                continue
            frame = frame.drop(columns=[k for k in frame.columns if k in meta and k not in axes])  # the attrs hold them
            if frame.duplicated(subset=list(axes)).any():
                raise ValueError(f"{type(self).__name__}.to_xarray(): table {name!r} has rows with equal "
                                 f"{', '.join(axes)}; use to_pandas({name!r})")
            parts.append(frame.set_index(list(axes)).to_xarray())
        out = xr.merge(parts, compat="no_conflicts", join="outer") if parts else xr.Dataset()
        out.attrs.update(attrs)
        return out

    def to_csv(self, path: Target = None, table: str | None = None) -> Path | str | None:
        """Write ``table`` (default: the first) as CSV to ``path``: a file path (returns the
        ``Path``), an open text stream (returns ``None``) or ``None`` (returns the text).
        Integral numbers are written as integers, non-finite ones as ``inf``/``-inf``/``nan``."""
        _, columns = self._table(table)
        return write_text(csv_text(columns), path)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of :meth:`to_json` as plain data (non-finite numbers as the strings
        ``"inf"``, ``"nan"``), e.g. to embed several results in one document."""
        return json_ready(self._json_doc())

    def to_json(self, path: Target = None) -> Path | str | None:
        """Write the result as JSON (:meth:`to_dict`) to ``path``: a file path (returns the
        ``Path``), an open text stream (returns ``None``) or ``None`` (returns the text)."""
        return write_text(json.dumps(self.to_dict(), indent=2) + "\n", path)

    def _repr_html_(self) -> str:
        """The default table as HTML (Jupyter), headed by the result's scalars."""
        name, columns = self._table(None)
        meta = ", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in self._meta().items())
        return html_table(columns, f"{type(self).__name__} ({name})" + (f": {meta}" if meta else ""))
