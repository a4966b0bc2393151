"""Writing results: JSON-ready data, CSV and HTML tables, text to a file or stream.

:func:`json_ready` makes data JSON-ready (non-finite floats as the strings ``"inf"``, ``"-inf"``,
``"nan"``); :func:`csv_text` and :func:`records_csv` write CSV (integral floats below
:math:`2^{53}` as integers, other floats in their shortest round-trip form, so a CSV read back
gives the same numbers); :func:`html_table` renders columns for notebooks; :func:`write_text`
delivers text to a path, an open stream or a string. :func:`require` imports an optional
library of the ``tables`` extra (pandas, xarray) or raises ``ImportError`` naming the extra
(:data:`INSTALL_TABLES`).
"""

from __future__ import annotations

from ._jsonio import json_ready
from ._tables import (
    INSTALL_TABLES,
    csv_cell,
    csv_text,
    html_table,
    records_csv,
    records_to_columns,
    require,
    write_text,
)

__all__ = [
    "INSTALL_TABLES",
    "csv_cell",
    "csv_text",
    "html_table",
    "json_ready",
    "records_csv",
    "records_to_columns",
    "require",
    "write_text",
]
