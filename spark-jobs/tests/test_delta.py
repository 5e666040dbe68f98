"""Curated as a Delta Lake table: what a reader outside Spark sees, one commit per run, a retry
after a landed commit, uncommitted files, the table format of the spec against the table's, and
converting a Parquet table in place (curated_convert.py)."""

from __future__ import annotations

import json
import shutil

import pytest
from deltalake import DeltaTable

import curated_convert
import pipeline

SPEC = {
    "columns": {"order_id": "bigint", "amount": "int", "order_ts": "timestamp"},
    "keys": ["order_id"],
    "orderBy": ["order_ts"],
    "partitionBy": [{"name": "order_date", "expr": "to_date(order_ts)"}],
}


def put(lake, key: str, *rows) -> None:
    ids, amounts, ts = zip(*rows, strict=True)
    lake.put_table(key, {"order_id": list(ids), "amount": list(amounts), "order_ts": list(ts)})


def run(lake, key: str, etag: str, run_id: str, spec=SPEC) -> int:
    return pipeline.main(
        ["--lake", lake.uri, "--key", key, "--etag", etag, "--run-id", run_id, "--spec", json.dumps(spec)]
    )


def report(lake, run_id: str) -> dict:
    return json.loads(lake.path(f"metadata/runs/{run_id}.json").read_text())


def outside_spark(lake, rel: str = "curated/sales") -> list[tuple]:
    """The table as delta-rs (no Spark, no JVM) reads it: (order_id, amount, order_date, etag), sorted."""
    rows = DeltaTable(str(lake.path(rel))).to_pyarrow_table().to_pylist()
    return sorted((r["order_id"], r["amount"], str(r["order_date"]), r["_source_etag"]) for r in rows)


def history(lake, rel: str = "curated/sales") -> list[dict]:
    return DeltaTable(str(lake.path(rel))).history()


def test_curated_is_a_delta_table_any_delta_reader_reads(spark, lake):
    put(lake, "raw/sales/a.parquet", ("1", "10", "2024-01-01 10:00:00"), ("2", "20", "2024-01-02 10:00:00"))
    put(lake, "raw/sales/b.parquet", ("1", "11", "2024-01-03 10:00:00"), ("3", "30", "2024-01-02 11:00:00"))
    assert run(lake, "raw/sales/a.parquet", "a1", "a") == 0
    assert run(lake, "raw/sales/b.parquet", "b1", "b") == 0  # key 1 moves to 2024-01-03

    assert outside_spark(lake) == [
        (1, 11, "2024-01-03", "b1"),
        (2, 20, "2024-01-02", "a1"),
        (3, 30, "2024-01-02", "b1"),
    ]
    table = DeltaTable(str(lake.path("curated/sales")))
    assert table.metadata().partition_columns == ["order_date"]
    assert table.version() == 1  # one commit per run
    commits = history(lake)
    assert [c["operation"] for c in commits] == ["MERGE", "WRITE"]
    assert json.loads(commits[0]["userMetadata"])["runId"] == "b"
    # Spark reads the same table.
    got = sorted((r.order_id, r.amount) for r in lake.read(spark, "curated/sales").collect())
    assert got == [(1, 11), (2, 20), (3, 30)]


def test_a_retry_after_the_commit_landed_commits_nothing(spark, lake):
    put(lake, "raw/sales/a.parquet", ("1", "10", "2024-01-01 10:00:00"))
    put(lake, "raw/sales/b.parquet", ("2", "20", "2024-01-01 11:00:00"))
    assert run(lake, "raw/sales/a.parquet", "a1", "a") == 0
    assert run(lake, "raw/sales/b.parquet", "b1", "b") == 0
    before = (len(history(lake)), outside_spark(lake))
    # The driver died after its commit, before the controller saw the report: the same version runs again.
    assert run(lake, "raw/sales/b.parquet", "b1", "b-retry") == 0
    assert (len(history(lake)), outside_spark(lake)) == before
    assert report(lake, "b-retry")["rows"]["curated"] == 1  # the report still counts what the file offered
    # Not the latest commit any more: reprocessing a version is a new commit, with the same rows.
    assert run(lake, "raw/sales/a.parquet", "a1", "a-again") == 0
    assert len(history(lake)) == before[0] + 1
    assert outside_spark(lake) == before[1]


def test_files_a_crashed_writer_left_uncommitted_are_not_read(spark, lake):
    put(lake, "raw/sales/a.parquet", ("1", "10", "2024-01-01 10:00:00"), ("2", "20", "2024-01-01 11:00:00"))
    assert run(lake, "raw/sales/a.parquet", "a1", "a") == 0
    before = outside_spark(lake)
    # What a run killed between writing its data files and committing leaves: data files no log entry names.
    partition = lake.path("curated/sales/order_date=2024-01-01")
    written = next(p for p in partition.iterdir() if p.suffix == ".parquet")
    shutil.copy(written, partition / "part-99999-crashed-writer.c000.snappy.parquet")
    assert outside_spark(lake) == before
    assert sorted((r.order_id, r.amount) for r in lake.read(spark, "curated/sales").collect()) == [(1, 10), (2, 20)]
    # ... and the next run merges into the last committed version as if nothing had happened.
    put(lake, "raw/sales/b.parquet", ("2", "21", "2024-01-01 12:00:00"))
    assert run(lake, "raw/sales/b.parquet", "b1", "b") == 0
    assert outside_spark(lake) == [(1, 10, "2024-01-01", "a1"), (2, 21, "2024-01-01", "b1")]


def test_a_parquet_table_stays_parquet_unless_told(spark, lake, capsys):
    parquet = {**SPEC, "tableFormat": "parquet"}
    put(lake, "raw/sales/a.parquet", ("1", "10", "2024-01-01 10:00:00"))
    put(lake, "raw/sales/b.parquet", ("2", "20", "2024-01-01 11:00:00"))
    assert run(lake, "raw/sales/a.parquet", "a1", "a", parquet) == 0
    assert not lake.is_delta("curated/sales")
    # The spec no longer says: the existing Parquet table keeps its format.
    assert run(lake, "raw/sales/b.parquet", "b1", "b") == 0
    assert not lake.is_delta("curated/sales")
    assert sorted(r.order_id for r in lake.read(spark, "curated/sales").collect()) == [1, 2]
    # The spec says delta: refused, naming the way out, and curated is untouched.
    assert run(lake, "raw/sales/b.parquet", "b2", "c", {**SPEC, "tableFormat": "delta"}) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert 'is a Parquet table but the spec says tableFormat "delta"' in last
    assert "with `s3-spark-watcher curated convert sales`" in last
    statement = last.split("(Spark SQL: ", 1)[1].split("), or remove", 1)[0]
    assert statement == f"CONVERT TO DELTA parquet.`{lake.out('curated/sales')}` PARTITIONED BY (`order_date` date)"
    assert report(lake, "c")["error"]["type"] == "CuratedFormatConflict"
    assert not lake.is_delta("curated/sales")
    # The statement it names converts the table in place, keeping every row; then the spec's delta works.
    before = sorted((r.order_id, r.amount) for r in lake.read(spark, "curated/sales").collect())
    spark.sql(statement)
    assert lake.is_delta("curated/sales")
    assert sorted((r.order_id, r.amount) for r in lake.read(spark, "curated/sales").collect()) == before
    put(lake, "raw/sales/b.parquet", ("2", "22", "2024-01-01 12:00:00"))
    assert run(lake, "raw/sales/b.parquet", "b3", "d", {**SPEC, "tableFormat": "delta"}) == 0
    assert outside_spark(lake) == [(1, 10, "2024-01-01", "a1"), (2, 22, "2024-01-01", "b3")]


def test_a_delta_table_is_not_written_as_parquet(spark, lake, capsys):
    put(lake, "raw/sales/a.parquet", ("1", "10", "2024-01-01 10:00:00"))
    assert run(lake, "raw/sales/a.parquet", "a1", "a") == 0
    version = DeltaTable(str(lake.path("curated/sales"))).version()
    assert run(lake, "raw/sales/a.parquet", "a2", "b", {**SPEC, "tableFormat": "parquet"}) == 2
    assert 'is a Delta Lake table but the spec says tableFormat "parquet"' in capsys.readouterr().err
    assert DeltaTable(str(lake.path("curated/sales"))).version() == version


@pytest.mark.parametrize("spec", [SPEC, {"columns": SPEC["columns"]}], ids=["keys", "no-keys"])
def test_source_keys_with_quotes_and_backslashes_are_replaced(spark, lake, spec):
    key = 'raw/sales/it\'s a \\ "file".parquet'
    put(lake, key, ("1", "10", "2024-01-01 10:00:00"), ("2", "20", "2024-01-01 11:00:00"))
    assert run(lake, key, "v1", "a", spec) == 0
    put(lake, key, ("1", "10", "2024-01-01 10:00:00"))  # v2 drops order 2
    assert run(lake, key, "v2", "b", spec) == 0
    rows = DeltaTable(str(lake.path("curated/sales"))).to_pyarrow_table().to_pylist()
    assert sorted((r["order_id"], r["_source_key"], r["_source_etag"]) for r in rows) == [(1, key, "v2")]


def convert(lake, dataset: str, run_id: str, capsys) -> tuple[int, dict | None, str]:
    """Runs curated_convert.py's main: its exit code, its result line (parsed) and its last stderr line."""
    code = curated_convert.main(["--lake", lake.uri, "--dataset", dataset, "--run-id", run_id])
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("curated_convert: ")]
    result = json.loads(lines[-1].removeprefix("curated_convert: ")) if lines else None
    return code, result, (err.strip().splitlines() or [""])[-1]


def spark_history(spark, lake, rel: str = "curated/sales") -> list[dict]:
    """The table's commits as Spark reads them, latest first."""
    return [r.asDict() for r in spark.sql(f"DESCRIBE HISTORY delta.`{lake.out(rel)}`").collect()]


def parquet_files(lake) -> list[str]:
    """The table's data files (its log's checkpoints left out), relative to it."""
    root = lake.path("curated/sales")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet") if "_delta_log" not in p.parts)


def test_a_parquet_table_converts_in_place_keeping_its_rows_and_files(spark, lake, capsys):
    parquet = {**SPEC, "tableFormat": "parquet"}
    put(lake, "raw/sales/a.parquet", ("1", "10", "2024-01-01 10:00:00"), ("2", "20", "2024-01-02 10:00:00"))
    put(lake, "raw/sales/b.parquet", ("2", "21", "2024-01-03 10:00:00"), ("3", "30", "2024-01-02 11:00:00"))
    assert run(lake, "raw/sales/a.parquet", "a1", "a", parquet) == 0
    assert run(lake, "raw/sales/b.parquet", "b1", "b", parquet) == 0  # order 2 leaves 2024-01-02 for 2024-01-03
    data_files = parquet_files(lake)
    rows = lake.read(spark, "curated/sales").collect()
    before = sorted((r.order_id, r.amount, str(r.order_date), r._source_etag) for r in rows)

    code, result, _ = convert(lake, "sales", "convert-1", capsys)
    assert code == 0
    assert result == {
        "dataset": "sales",
        "table": lake.out("curated/sales"),
        "converted": True,
        "version": 0,
        "rows": 3,
        "partitionBy": ["order_date"],
        "statement": f"CONVERT TO DELTA parquet.`{lake.out('curated/sales')}` PARTITIONED BY (`order_date` date)",
    }
    # In place: the same data files, now named by the log; a reader outside Spark sees every row.
    assert parquet_files(lake) == data_files
    assert outside_spark(lake) == before
    # delta-rs (1.6) reads the converted table's rows but not its history: Spark's CONVERT commit
    # says readVersion -1, which delta-rs's commitInfo parser refuses. Spark reads the history.
    [commit] = spark_history(spark, lake)
    assert commit["operation"] == "CONVERT"
    assert json.loads(commit["userMetadata"])["runId"] == "convert-1"
    # Converting again changes nothing; the next run (no tableFormat: the table's own) merges into Delta.
    code, result, _ = convert(lake, "sales", "convert-2", capsys)
    assert (code, result["converted"], result["version"], result["rows"]) == (0, False, 0, 3)
    put(lake, "raw/sales/c.parquet", ("3", "31", "2024-01-02 12:00:00"))
    assert run(lake, "raw/sales/c.parquet", "c1", "c") == 0
    assert outside_spark(lake) == [
        (1, 10, "2024-01-01", "a1"),
        (2, 21, "2024-01-03", "b1"),
        (3, 31, "2024-01-02", "c1"),
    ]
    assert [c["operation"] for c in spark_history(spark, lake)] == ["MERGE", "CONVERT"]


def test_converting_what_is_not_there_is_refused_by_name(spark, lake, capsys):
    code, result, last = convert(lake, "nothing", "convert-1", capsys)
    assert (code, result) == (2, None)
    missing = lake.out("curated/nothing")
    assert last == f"pipeline: permanent: there is no curated table at {missing}: nothing to convert"
    code, result, last = convert(lake, "../raw", "convert-2", capsys)
    assert (code, result) == (2, None)
    assert "--dataset must be a dataset name" in last
