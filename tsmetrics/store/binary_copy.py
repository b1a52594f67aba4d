"""PostgreSQL's binary COPY format, built from numpy columns without a Python loop per row."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

import numpy as np

# Binary timestamps count microseconds from 2000-01-01 UTC.
PG_EPOCH_US = 946_684_800 * 1_000_000
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TRAILER = struct.pack("!h", -1)


def binary_copy(columns: Mapping[str, np.ndarray], layout: Sequence[tuple[str, str]]) -> bytes:
    """One COPY ... (FORMAT BINARY) stream of fixed-width, non-null columns.

    `layout` names each column with its big-endian numpy type, in the table's
    column order; a tuple is the field count, then (length, value) per column.
    """
    fields = [("fields", ">i2")]
    for name, kind in layout:
        fields += [(f"{name}_len", ">i4"), (name, kind)]
    rows = np.empty(len(columns[layout[0][0]]), dtype=np.dtype(fields))
    rows["fields"] = len(layout)
    for name, kind in layout:
        rows[f"{name}_len"] = np.dtype(kind).itemsize
        rows[name] = columns[name]
    return _HEADER + rows.tobytes() + _TRAILER
