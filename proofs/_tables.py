"""Tables of report records for notebooks: a pandas DataFrame (``tables`` extra) and an HTML table.

A report turns itself into records, one dict per row with the same keys; :func:`to_dataframe`
and :func:`html_table` render them. pandas is imported only by :func:`to_dataframe`; the HTML
table needs nothing beyond the standard library, so a report displays in Jupyter without pandas.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["html_table", "to_dataframe"]


def to_dataframe(records: Sequence[Mapping[str, object]], columns: Sequence[str]) -> Any:
    """A ``pandas.DataFrame`` with one row per record and the given columns (in that order)."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("to_pandas() needs pandas; install it with: pip install 'nqm-toolkit[tables]'") from exc
    return pd.DataFrame([dict(r) for r in records], columns=list(columns))


def html_table(records: Sequence[Mapping[str, object]], columns: Sequence[str], caption: str = "") -> str:
    """An HTML ``<table>`` of the records: every cell escaped, line breaks kept."""

    def cell(value: object) -> str:
        return html.escape("" if value is None else str(value)).replace("\n", "<br>")

    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td style="text-align:left">{cell(r.get(c))}</td>' for c in columns) + "</tr>"
        for r in records
    )
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{title}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
