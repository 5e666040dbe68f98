"""One real `spark-submit` run of pipeline.py, as the controller's spark-submit engine does it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
from delta_jars import submit_args

SPARK_JOBS = Path(__file__).resolve().parents[1]
SPARK_SUBMIT = Path(sys.executable).parent / "spark-submit"


def test_spark_submit_end_to_end(spark, lake):
    key = "raw/shop/2024/05/orders.parquet"
    lake.put_table(
        key,
        pa.table(
            {
                "Order ID": ["1", " 1", "2", "bad", "3", None],
                "customerName": [" Ann ", "Ann", "Bob", "Cy", "N/A", None],
                "Amount($)": [10.5, 10.5, -1.0, 3.0, float("nan"), None],
            }
        ),
    )
    spec = {
        "columns": {"order_id": "bigint"},
        "required": ["amount"],
        "rules": [{"name": "amount_non_negative", "expr": "amount >= 0"}],
        "keys": ["order_id"],
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_"))}
    env["PYSPARK_PYTHON"] = sys.executable
    proc = subprocess.run(
        [str(SPARK_SUBMIT), "--master", "local[1]", "--conf", "spark.ui.enabled=false", *submit_args(),
         "--conf", "spark.sql.shuffle.partitions=2", str(SPARK_JOBS / "pipeline.py"),
         "--lake", lake.uri, "--key", key, "--etag", '"abc-1"', "--run-id", "e2e-1", "--spec", json.dumps(spec)],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = json.loads(lake.path("metadata/runs/e2e-1.json").read_text())
    assert report["status"] == "succeeded"
    assert report["etag"] == '"abc-1"'
    assert report["rows"] == {"read": 6, "cleaned": 4, "quarantined": 3, "curated": 1}

    cleaned = spark.read.parquet(lake.out("cleaned/shop/2024/05/orders"))
    assert cleaned.columns == ["order_id", "customer_name", "amount", "_source_key", "_source_etag", "_ingested_at"]
    assert sorted((r.order_id, r.customer_name, r.amount) for r in cleaned.collect()) == [(1, "Ann", 10.5)]
    quarantine = {
        r.order_id: r._errors for r in spark.read.parquet(lake.out("quarantine/shop/2024/05/orders")).collect()
    }
    assert quarantine == {
        "2": ["amount_non_negative"],
        "bad": ["type:order_id"],
        "3": ["required:amount", "amount_non_negative"],
    }
    assert lake.is_delta("curated/shop")
    curated = lake.read(spark, "curated/shop").collect()
    assert [(r.order_id, r._source_key) for r in curated] == [(1, key)]
