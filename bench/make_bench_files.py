"""Bench input: N Parquet files of orders, about 1 MB each (bench/connect-speedup.ts).

    python make_bench_files.py <lake root> <files> <rows per file> <datasets>

File i holds day i's new orders (5% of them twice) and 2% late updates of day i-1's orders.
"""

import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

root, n, rows, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(7)
for i in range(n):
    # File i: the orders of day i (new ids, 5% sent twice), plus 2% late updates of day i-1's orders.
    ids = np.arange(i * rows, (i + 1) * rows)
    ids = np.concatenate([ids, rng.choice(ids, rows // 20)])
    if i > 0:
        ids = np.concatenate([ids, rng.choice(np.arange((i - 1) * rows, i * rows), rows // 50)])
    day = np.where(ids >= i * rows, i, i - 1)
    m = len(ids)
    ts = np.datetime64("2026-11-01T00:00:00") + (day * 86400 + rng.integers(0, 86400, m)).astype("timedelta64[s]")
    table = pa.table(
        {
            "Order ID": ids,
            "customer_id": rng.integers(1, 5000, m),
            "amount": [f"{a:.2f}" for a in rng.normal(40, 30, m)],
            "currency": rng.choice(["EUR", "USD", "GBP", "JPY"], m),
            "order_ts": ts.astype(str),
            "country": rng.choice([" ES", "US ", "GB", "DE", "N/A"], m),
            "note": [f"order {x} for bench" for x in ids],
        }
    )
    folder = os.path.join(root, "raw", f"orders{i % k if k > 1 else ''}", "bench")
    os.makedirs(folder, exist_ok=True)
    pq.write_table(table, os.path.join(folder, f"{i:03d}.parquet"))
