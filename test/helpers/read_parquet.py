"""Prints a zone folder as a JSON list of rows, for tests to check: a Delta table (a `_delta_log`
folder) through delta-rs, as a reader outside Spark sees it; else Parquet files, hive partitions
included, through pyarrow."""

import json
import os
import sys

folder = sys.argv[1]
if os.path.isdir(os.path.join(folder, "_delta_log")):
    from deltalake import DeltaTable

    table = DeltaTable(folder).to_pyarrow_table()
else:
    import pyarrow.dataset as ds

    table = ds.dataset(folder, format="parquet", partitioning="hive", exclude_invalid_files=True).to_table()
sys.stdout.write(json.dumps(table.to_pylist(), default=str) + "\n")
sys.stdout.flush()
# delta-rs with pyarrow aborts at interpreter exit in about half the runs here, its scan threads
# outliving Arrow ("terminate called without an active exception", delta-rs #2184, arrow #34314):
# the rows are out, so leave without the interpreter's teardown.
os._exit(0)
