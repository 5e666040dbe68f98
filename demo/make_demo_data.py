"""Writes the demo's raw files: two datasets with the dirt real files have.

    python demo/make_demo_data.py --lake ./lake [--force]

orders (has a spec in demo/datasets/orders.json): messy column names, padded strings, null
tokens, an exact duplicate, a negative amount and an unknown currency (rules), an unparsable
timestamp (type), a missing order id (required), and a second file that updates an order
(keys + orderBy keep the latest). customers (no spec): cleaning only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ORDERS_DAY1 = {
    "Order ID": ["1001", "1002", "1003", "1003", "1004", "1005", "1006", None, "1008"],
    "Customer Id": ["1", "2", "3", "3", "4", "N/A", "6", "7", "8"],
    "Amount": ["19.99", " 5.00 ", "42.50", "42.50", "-3.00", "7.25", "12.00", "1.00", "8.80"],
    "Currency": ["EUR", "USD ", "EUR", "EUR", "EUR", "GBP", "XYZ", "EUR", "EUR"],
    "Order TS": [
        "2026-11-01 09:15:00",
        "2026-11-01 10:02:00",
        "2026-11-01 11:30:00",
        "2026-11-01 11:30:00",
        "2026-11-01 12:00:00",
        "2026-11-01 13:45:00",
        "2026-11-01 14:00:00",
        "2026-11-01 15:00:00",
        "not-a-date",
    ],
    "Country": [" DE", "US", "null", "null", "FR", "GB", "ES", "DE", ""],
}

ORDERS_DAY2 = {
    "Order ID": ["1002", "2001", "2002", "2003"],
    "Customer Id": ["2", "9", "10", "11"],
    "Amount": ["6.50", "99.00", "15.00", "NaN"],
    "Currency": ["USD", "EUR", "USD", "EUR"],
    "Order TS": ["2026-11-02 08:00:00", "2026-11-02 09:00:00", "2026-11-02 10:30:00", "2026-11-02 11:00:00"],
    "Country": ["US", "IT", "US", "NL"],
}

CUSTOMERS = pa.table(
    {
        "customerName": ["  Ada Lovelace ", "Grace Hopper", "Grace Hopper", None, "Alan Turing", "NULL"],
        "E-mail": ["ada@example.org", "grace@example.org", "grace@example.org", None, " alan@example.org", "None"],
        "signup date": ["2026-01-05", "2026-02-11", "2026-02-11", None, "2026-03-20", "N/A"],
        "score": [9.5, 8.0, 8.0, None, float("nan"), None],
    }
)


def write(lake: Path, key: str, table: pa.Table, force: bool) -> Path:
    path = lake / key
    if path.exists() and not force:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, type=Path, help="lake root folder")
    parser.add_argument("--force", action="store_true", help="rewrite files that exist")
    args = parser.parse_args(argv)
    written = [
        write(args.lake, "raw/orders/2026/11/01/orders.parquet", pa.table(ORDERS_DAY1), args.force),
        write(args.lake, "raw/orders/2026/11/02/orders.parquet", pa.table(ORDERS_DAY2), args.force),
        write(args.lake, "raw/customers/customers.parquet", CUSTOMERS, args.force),
    ]
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
