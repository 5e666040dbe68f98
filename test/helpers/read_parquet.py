"""Prints a Parquet folder (hive partitions included) as a JSON list of rows, for tests to check."""

import json
import sys

import pyarrow.dataset as ds

table = ds.dataset(sys.argv[1], format="parquet", partitioning="hive", exclude_invalid_files=True).to_table()
print(json.dumps(table.to_pylist(), default=str))
