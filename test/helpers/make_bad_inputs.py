"""Writes one raw file per kind of bad or awkward input into a folder, for the bad-input suite.

    python test/helpers/make_bad_inputs.py <out-folder>

Each kind is `<out>/<kind>.parquet` (the tests put them under raw/ at the key they need).
The data is small and fixed, so the tests can check the rows that come out.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

D = decimal.Decimal


def good() -> pa.Table:
    """A well-formed file: what the watcher must go on processing after every bad one."""
    return pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", "c"], "amount": [1.5, 2.5, 3.5]})


def zero_rows() -> pa.Table:
    return good().slice(0, 0)


def drift_new_column() -> pa.Table:
    """One more column than `good`; the others keep their types."""
    return good().append_column("colour", pa.array(["red", "green", "blue"]))


def drift_changed_type() -> pa.Table:
    """`amount` is a string here but a double in `good`."""
    return pa.table({"id": pa.array([4, 5], pa.int64()), "name": ["d", "e"], "amount": ["4.5", "5.5"]})


def nested() -> pa.Table:
    point = pa.struct([("x", pa.int32()), ("y", pa.int32())])
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "point": pa.array([{"x": 1, "y": 2}, {"x": 3, "y": 4}, None], point),
            "tags": pa.array([["a", "b"], [], None], pa.list_(pa.string())),
            "attrs": pa.array([[("k", 1)], [("k", 2), ("j", 3)], None], pa.map_(pa.string(), pa.int64())),
            "events": pa.array(
                [[{"x": 1, "y": 1}], [{"x": 2, "y": 2}, {"x": 3, "y": 3}], []],
                pa.list_(point),
            ),
        }
    )


def int96() -> pa.Table:
    """Timestamps stored as INT96 (Impala/Hive/old Spark), including dates before the Gregorian switch."""
    ts = [
        dt.datetime(2026, 11, 1, 9, 15, 0, 123456),
        dt.datetime(1900, 1, 1, 0, 0, 0),
        dt.datetime(1, 1, 1, 0, 0, 0),
    ]
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "seen_at": pa.array(ts, pa.timestamp("us")),
            "born_on": pa.array([dt.date(2026, 11, 1), dt.date(1900, 1, 1), dt.date(1, 1, 1)], pa.date32()),
        }
    )


def decimals() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "price": pa.array([D("19.99"), D("-0.01"), D("999.99")], pa.decimal128(5, 2)),
            "big": pa.array(
                [D("12345678901234567890.1234567890"), D("-0.0000000001"), D("0E-10")],
                pa.decimal128(38, 10),
            ),
            "whole": pa.array([D("123456789012345678"), D("0"), D("-1")], pa.decimal128(18, 0)),
        }
    )


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "good": good(),
        "zero-rows": zero_rows(),
        "drift-new-column": drift_new_column(),
        "drift-changed-type": drift_changed_type(),
        "nested": nested(),
        "decimals": decimals(),
    }
    for name, table in tables.items():
        pq.write_table(table, out / f"{name}.parquet")
    pq.write_table(int96(), out / "int96.parquet", use_deprecated_int96_timestamps=True)
    (out / "text.parquet").write_text("id,name\n1,a\n2,b\n", encoding="utf-8")
    whole = (out / "good.parquet").read_bytes()
    (out / "truncated.parquet").write_bytes(whole[: len(whole) // 2])
    (out / "empty.parquet").write_bytes(b"")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_bad_inputs.py <out-folder>")
    main(Path(sys.argv[1]))
