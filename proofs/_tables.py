"""Report records as tables for notebooks: the numerics' table helpers applied to a list of records.

A report turns itself into records, one dict per row with the same keys; :func:`to_dataframe`
and :func:`html_table` render them through :mod:`nqm.numerics.io` (one HTML and one
pandas path for every result of the toolkit). pandas is imported only on demand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nqm.numerics.io import html_table as _columns_html
from nqm.numerics.io import require

__all__ = ["html_table", "to_dataframe"]


def _columns(records: Sequence[Mapping[str, object]], columns: Sequence[str]) -> dict[str, list[object]]:
    return {c: [r.get(c) for r in records] for c in columns}


def to_dataframe(records: Sequence[Mapping[str, object]], columns: Sequence[str]) -> Any:
    """A ``pandas.DataFrame`` with one row per record and the given columns (in that order)."""
    return require("pandas", "to_pandas()").DataFrame(_columns(records, columns))


def html_table(records: Sequence[Mapping[str, object]], columns: Sequence[str], caption: str = "") -> str:
    """An escaped HTML table of the records (pandas' ``to_html`` when installed, else a plain table)."""
    return _columns_html(_columns(records, columns), caption)
