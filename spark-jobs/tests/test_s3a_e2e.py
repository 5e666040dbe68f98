"""The real `spark-submit` of pipeline.py against an S3 server (moto) through `s3a://`.

Runs the job as the controller does on S3: the hadoop-aws + AWS SDK jars from
`.cache/spark-jars/hadoop-<version>/` via `--jars`, the endpoint / path style / region as
`spark.hadoop.fs.s3a.*` confs, and the credentials only in the child's environment.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from delta_jars import submit_args

pytest.importorskip("moto", reason="moto (S3 test server) is installed only in the Spark 4 venv: requirements.txt")
import boto3  # after the skip: moto[server] brings boto3

SPARK_JOBS = Path(__file__).resolve().parents[1]
REPO = SPARK_JOBS.parent
BIN = Path(sys.executable).parent
SPARK_SUBMIT = BIN / "spark-submit"
MOTO_SERVER = BIN / "moto_server"

REGION = "us-east-1"
ACCESS_KEY = "testing"
SECRET_KEY = "testing"
BUCKET = "lake"
PREFIX = "some/prefix"
LAKE = f"s3a://{BUCKET}/{PREFIX}"


def hadoop_version() -> str:
    """The Hadoop version PySpark ships, from pyspark/jars/hadoop-client-api-<version>.jar."""
    import pyspark

    jars = sorted((Path(pyspark.__file__).parent / "jars").glob("hadoop-client-api-*.jar"))
    assert jars, "pyspark/jars has no hadoop-client-api-*.jar"
    return re.fullmatch(r"hadoop-client-api-(.+)\.jar", jars[0].name).group(1)


@pytest.fixture(scope="module")
def s3a_jars() -> list[str]:
    version = hadoop_version()
    folder = REPO / ".cache" / "spark-jars" / f"hadoop-{version}"
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    has_aws = any(Path(j).name == f"hadoop-aws-{version}.jar" for j in jars)
    has_sdk = any("bundle" in Path(j).name for j in jars)
    if not (has_aws and has_sdk):
        pytest.fail(
            f"the S3A jars for Hadoop {version} are missing from {folder}; from {REPO} run:\n"
            f"  mvn -q -B -f spark-jobs/s3a/pom.xml dependency:copy-dependencies "
            f"-DoutputDirectory=.cache/spark-jars/hadoop-{version} -Dhadoop.version={version}",
            pytrace=False,
        )
    return jars


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    """A moto S3 server on a free loopback port, stopped at teardown."""
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log_path, "wb") as log:
        # Output goes to a file, not a pipe: moto logs every request and would block on a full pipe.
        proc = subprocess.Popen(
            [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 30
        endpoint = None
        while endpoint is None:
            match = re.search(r"Running on (http://127\.0\.0\.1:\d+)", log_path.read_text(errors="replace"))
            if match:
                endpoint = match.group(1)
            elif proc.poll() is not None:
                pytest.fail(f"moto_server exited with {proc.returncode}: {log_path.read_text(errors='replace')}")
            elif time.monotonic() > deadline:
                pytest.fail(f"moto_server did not start within 30 s: {log_path.read_text(errors='replace')}")
            else:
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=BUCKET)
    return client


def submit(endpoint: str, jars: list[str], key: str, run_id: str, spec: dict | None = None):
    """spark-submit exactly as the controller runs it on S3 (plus a small shuffle for speed)."""
    cmd = [
        str(SPARK_SUBMIT), "--master", "local[1]", "--conf", "spark.ui.enabled=false",
        "--jars", ",".join(jars), *submit_args(),
        "--conf", f"spark.hadoop.fs.s3a.endpoint={endpoint}",
        "--conf", "spark.hadoop.fs.s3a.path.style.access=true",
        "--conf", f"spark.hadoop.fs.s3a.endpoint.region={REGION}",
        "--conf", "spark.hadoop.fs.s3.impl=org.apache.hadoop.fs.s3a.S3AFileSystem",
        "--conf", "spark.sql.shuffle.partitions=2",  # test speed only
        str(SPARK_JOBS / "pipeline.py"),
        "--lake", LAKE, "--key", key, "--etag", '"v1"', "--run-id", run_id,
    ]  # fmt: skip
    if spec is not None:
        cmd += ["--spec", json.dumps(spec)]
    assert not any(SECRET_KEY in arg for arg in cmd), "credentials must never be on the command line (ps shows it)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_", "AWS_"))}
    env.update(PYSPARK_PYTHON=sys.executable, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)


def keys_under(s3, rel: str) -> list[str]:
    """Keys under `<PREFIX>/<rel>`, relative to the lake root."""
    out = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{PREFIX}/{rel}"):
        out += [o["Key"][len(PREFIX) + 1 :] for o in page.get("Contents", [])]
    return sorted(out)


def get(s3, rel: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{rel}")["Body"].read()


def read_parquet_folder(s3, rel: str) -> list[dict]:
    parts = [k for k in keys_under(s3, rel + "/") if k.endswith(".parquet")]
    assert parts, f"no Parquet part files under {rel}/"
    rows = []
    for part in parts:
        rows += pq.read_table(io.BytesIO(get(s3, part))).to_pylist()
    return rows


def read_delta(endpoint: str, rel: str) -> list[dict]:
    """A Delta table in the bucket, read by delta-rs (the `deltalake` package) over S3, no Spark."""
    from deltalake import DeltaTable

    options = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_REGION": REGION,
        "AWS_ALLOW_HTTP": "true",
        "AWS_S3_ADDRESSING_STYLE": "path",
    }
    return DeltaTable(f"s3://{BUCKET}/{PREFIX}/{rel}", storage_options=options).to_pyarrow_table().to_pylist()


def read_report(s3, run_id: str) -> dict:
    parts = [k for k in keys_under(s3, f"metadata/runs/{run_id}.json/") if k.rsplit("/", 1)[-1].startswith("part-")]
    assert len(parts) == 1, parts
    lines = get(s3, parts[0]).decode().splitlines()
    assert len(lines) == 1, lines
    return json.loads(lines[0])


def test_s3a_spark_submit_end_to_end(s3, s3_endpoint, s3a_jars):
    key = "raw/shop/2024/05/orders.parquet"
    buf = io.BytesIO()
    pq.write_table(
        pa.table(
            {
                "Order ID": ["1", " 1", "2", "bad", "3", None],
                "customerName": [" Ann ", "Ann", "Bob", "Cy", "N/A", None],
                "Amount($)": [10.5, 10.5, -1.0, 3.0, float("nan"), None],
            }
        ),
        buf,
    )
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}", Body=buf.getvalue())
    raw_before = s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")
    spec = {
        "columns": {"order_id": "bigint"},
        "required": ["amount"],
        "rules": [{"name": "amount_non_negative", "expr": "amount >= 0"}],
        "keys": ["order_id"],
    }

    proc = submit(s3_endpoint, s3a_jars, key, "s3-1", spec)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-5000:])

    report = read_report(s3, "s3-1")
    assert report["status"] == "succeeded", report
    assert report["rows"] == {"read": 6, "cleaned": 4, "quarantined": 3, "curated": 1}
    assert report["outputs"] == {
        "cleaned": f"{LAKE}/cleaned/shop/2024/05/orders",
        "quarantine": f"{LAKE}/quarantine/shop/2024/05/orders",
        "curated": f"{LAKE}/curated/shop",
    }

    cleaned = read_parquet_folder(s3, "cleaned/shop/2024/05/orders")
    assert [(r["order_id"], r["customer_name"], r["amount"]) for r in cleaned] == [(1, "Ann", 10.5)]
    assert cleaned[0]["_source_key"] == key and cleaned[0]["_source_etag"] == '"v1"'
    # _ingested_at is the object's Last-Modified (S3 listing), written as an INT64 UTC instant
    # (pyarrow reads it time-zone aware).
    ingested = cleaned[0]["_ingested_at"]
    assert ingested.utcoffset() is not None and ingested.utcoffset().total_seconds() == 0
    assert abs((ingested - raw_before["LastModified"]).total_seconds()) < 1

    quarantine = {r["order_id"]: r["_errors"] for r in read_parquet_folder(s3, "quarantine/shop/2024/05/orders")}
    assert quarantine == {
        "2": ["amount_non_negative"],
        "bad": ["type:order_id"],
        "3": ["required:amount", "amount_non_negative"],
    }
    # curated is a Delta table: read it as a reader outside Spark would, delta-rs straight from S3.
    curated = read_delta(s3_endpoint, "curated/shop")
    assert [(r["order_id"], r["_source_key"]) for r in curated] == [(1, key)]

    # Nothing written under raw/: the one object, unchanged.
    assert keys_under(s3, "raw/") == [key]
    assert s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}")["ETag"] == raw_before["ETag"]


def test_s3a_not_parquet_is_permanent(s3, s3_endpoint, s3a_jars):
    key = "raw/shop/notes.parquet"
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/{key}", Body=b"order_id,amount\n1,2\n")

    proc = submit(s3_endpoint, s3a_jars, key, "s3-2")
    assert proc.returncode == 2, (proc.stdout[-3000:], proc.stderr[-5000:])
    # Spark's PythonRunner merges the job's stderr into spark-submit's stdout.
    assert "pipeline: permanent: not a readable Parquet file" in proc.stdout

    report = read_report(s3, "s3-2")
    assert report["status"] == "failed"
    assert report["error"]["kind"] == "permanent"
    assert report["error"]["type"] == "UnreadableInputError"
    assert keys_under(s3, "cleaned/shop/notes/") == []
    assert keys_under(s3, "raw/shop/notes") == [key]
