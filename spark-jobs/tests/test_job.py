"""The whole job in-process through `pipeline.main` on `file://` lakes."""

import json
import os
import platform
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import rows_of

import pipeline
from watcher_job.errors import PermanentJobError
from watcher_job.job import JobArgs, run_job

KEY = "raw/sales/2024/orders.parquet"
SPEC = {
    "columns": {"order_id": "bigint", "amount": "decimal(10,2)", "order_ts": "timestamp"},
    "required": ["order_ts"],
    "rules": [{"name": "amount_non_negative", "expr": "amount >= 0"}],
    "keys": ["order_id"],
    "orderBy": ["order_ts"],
    "partitionBy": [{"name": "order_date", "expr": "to_date(order_ts)"}],
}


def orders(*rows):
    ids, amounts, ts = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table(
        {"Order ID": pa.array(ids, pa.string()), "Amount($)": pa.array(amounts, pa.string()),
         "orderTs": pa.array(ts, pa.string())}
    )  # fmt: skip


# Curated semantics hold for both table formats: tests marked BOTH_FORMATS run once with each.
BOTH_FORMATS = pytest.mark.parametrize("table_format", ["delta", "parquet"], indirect=True)
_format: list[str | None] = [None]


@pytest.fixture(autouse=True)
def table_format(request):
    """The spec's tableFormat for `run` (None: unset, so a new table is Delta)."""
    _format[0] = getattr(request, "param", None)
    yield _format[0]
    _format[0] = None


def run(lake, key=KEY, etag="e1", run_id="run-1", spec=SPEC, extra=()):
    argv = ["--lake", lake.uri, "--key", key, "--etag", etag, "--run-id", run_id, *extra]
    if _format[0] is not None:
        spec = {**(spec or {}), "tableFormat": _format[0]}
    if spec is not None:
        argv += ["--spec", json.dumps(spec)]
    return pipeline.main(argv)


def report(lake, run_id="run-1"):
    return json.loads(lake.path(f"metadata/runs/{run_id}.json").read_text())


def read(spark, lake, rel):
    return lake.read(spark, rel)


def files_under(folder):
    return {
        os.path.relpath(os.path.join(d, f), folder): os.stat(os.path.join(d, f)).st_mtime_ns
        for d, _, fs in os.walk(folder)
        for f in fs
        if not f.startswith((".", "_"))
    }


DIRTY = [
    (" 1 ", "10.50", "2024-01-01 10:00:00"),
    ("1", "10.50", "2024-01-01 10:00:00"),  # same as above after trim
    ("2", "-3", "2024-01-02 00:00:00"),  # rule fails
    ("x", "1", "2024-01-02 00:00:00"),  # type:order_id
    ("3", "N/A", None),  # required:order_ts, rule on null amount
    (None, None, None),  # all null: dropped
    ("4", "7", "2024-01-02 09:00:00"),
    ("4", "8", "2024-01-02 11:00:00"),  # latest for key 4
]


def test_success_report_counts_and_outputs(spark, lake, capsys):
    lake.put_table(KEY, orders(*DIRTY))
    assert run(lake) == 0
    rep = report(lake)
    assert rep["status"] == "succeeded"
    assert rep["rows"] == {"read": 8, "cleaned": 6, "quarantined": 3, "curated": 2}
    assert (rep["runId"], rep["key"], rep["etag"], rep["dataset"]) == ("run-1", KEY, "e1", "sales")
    assert rep["outputs"] == {
        "cleaned": lake.out("cleaned/sales/2024/orders"),
        "quarantine": lake.out("quarantine/sales/2024/orders"),
        "curated": lake.out("curated/sales"),
    }
    assert rep["sparkVersion"] == spark.version
    assert rep["pythonVersion"] == platform.python_version()
    for field in ("startedAt", "finishedAt"):
        assert rep[field].endswith("Z")
        datetime.fromisoformat(rep[field].replace("Z", "+00:00"))
    assert "error" not in rep

    cleaned = read(spark, lake, "cleaned/sales/2024/orders")
    assert cleaned.count() == 3
    assert cleaned.schema["order_id"].dataType.simpleString() == "bigint"
    # lineage: the raw file's key, ETag and modification time (read by Spark, not a literal)
    mtime_ms = os.stat(lake.path(KEY)).st_mtime_ns // 1_000_000
    lineage = {(r._source_key, r._source_etag, int(r._ingested_at.timestamp() * 1000)) for r in cleaned.collect()}
    assert lineage == {(KEY, "e1", mtime_ms)}
    quarantine = {r.order_id: r._errors for r in read(spark, lake, "quarantine/sales/2024/orders").collect()}
    assert quarantine == {"2": ["amount_non_negative"], "x": ["type:order_id"],
                          "3": ["required:order_ts", "amount_non_negative"]}  # fmt: skip
    curated = read(spark, lake, "curated/sales")
    assert {(r.order_id, str(r.amount), str(r.order_date)) for r in curated.collect()} == {
        (1, "10.50", "2024-01-01"),
        (4, "8.00", "2024-01-02"),
    }
    assert sorted(p.name for p in lake.path("curated/sales").iterdir() if not p.name.startswith(("_", "."))) == [
        "order_date=2024-01-01",
        "order_date=2024-01-02",
    ]
    # nothing written under raw/ besides the input
    assert [p.name for p in lake.path("raw/sales/2024").iterdir()] == ["orders.parquet"]
    assert capsys.readouterr().err == ""


@BOTH_FORMATS
def test_reprocessing_the_same_version_is_idempotent(spark, lake):
    lake.put_table(KEY, orders(*DIRTY))
    lake.put_table("raw/sales/other.parquet", orders(("9", "1", "2024-01-05 00:00:00")))
    assert run(lake, key="raw/sales/other.parquet", run_id="other") == 0
    assert run(lake) == 0
    before = {z: rows_of(read(spark, lake, z)) for z in ("cleaned/sales/2024/orders", "quarantine/sales/2024/orders",
                                                          "curated/sales")}  # fmt: skip
    assert run(lake, run_id="run-2") == 0
    after = {z: rows_of(read(spark, lake, z)) for z in before}
    assert after == before
    assert report(lake, "run-2")["rows"] == report(lake)["rows"]


class Killed(BaseException):
    """A kill of the job process: no report, no cleanup (it is not an Exception the job catches)."""


def _kill_while_publishing(monkeypatch, lake, dataset):
    """Make the next publish into curated do what Spark's overwrite does first, delete what it
    replaces (the whole table, or each partition it writes), and then die."""
    import shutil

    import watcher_job.publish as publish

    def killed(spark, staged, curated_uri, step):
        table = lake.path(f"curated/{dataset}")
        if step.partition_by:
            for r in staged.select(*step.partition_by).distinct().collect():
                folder = table.joinpath(*[f"{n}={r[n]}" for n in step.partition_by])
                shutil.rmtree(folder, ignore_errors=True)
        else:
            shutil.rmtree(table)
        raise Killed()

    monkeypatch.setattr(publish, "_overwrite", killed)


@pytest.mark.parametrize("table_format", ["parquet"], indirect=True)
@pytest.mark.parametrize("partitioned", [True, False], ids=["partitioned", "whole-table"])
def test_a_merge_killed_while_publishing_loses_no_rows(spark, lake, monkeypatch, partitioned):
    spec = SPEC if partitioned else {k: v for k, v in SPEC.items() if k != "partitionBy"}
    lake.put_table("raw/sales/a.parquet", orders(("1", "1", "2024-01-01 10:00:00"), ("2", "2", "2024-01-02 10:00:00")))
    lake.put_table("raw/sales/b.parquet", orders(("3", "3", "2024-01-02 11:00:00")))
    assert run(lake, key="raw/sales/a.parquet", run_id="a", spec=spec) == 0
    with monkeypatch.context() as m:
        _kill_while_publishing(m, lake, "sales")
        with pytest.raises(Killed):
            run(lake, key="raw/sales/b.parquet", run_id="b", spec=spec)
    # what the kill left: curated lost order 2 (a.parquet's, recorded as processed)
    left = lake.path("curated/sales")
    assert not left.exists() or 2 not in {r["order_id"] for r in rows_of(read(spark, lake, "curated/sales"))}

    # the controller retries b.parquet: the run first finishes the interrupted publish
    assert run(lake, key="raw/sales/b.parquet", run_id="b2", spec=spec) == 0
    got = sorted((r["order_id"], r["_source_key"]) for r in rows_of(read(spark, lake, "curated/sales")))
    assert got == [(1, "raw/sales/a.parquet"), (2, "raw/sales/a.parquet"), (3, "raw/sales/b.parquet")]
    # and a later run finds nothing left to finish
    assert run(lake, key="raw/sales/a.parquet", etag="e2", run_id="a2", spec=spec) == 0
    assert sorted(r["order_id"] for r in rows_of(read(spark, lake, "curated/sales"))) == [1, 2, 3]


@BOTH_FORMATS
def test_new_etag_replaces_that_keys_rows_only(spark, lake):
    lake.put_table("raw/sales/a.parquet", orders(("1", "1", "2024-01-01 00:00:00"), ("2", "2", "2024-01-03 00:00:00")))
    lake.put_table("raw/sales/b.parquet", orders(("5", "5", "2024-01-01 00:00:00")))
    assert run(lake, key="raw/sales/a.parquet", etag="a1", run_id="a1") == 0
    assert run(lake, key="raw/sales/b.parquet", etag="b1", run_id="b1") == 0
    # the new version of a.parquet no longer has order 2 (its 2024-01-03 partition empties out)
    lake.put_table(
        "raw/sales/a.parquet", orders(("1", "100", "2024-01-01 00:00:00"), ("3", "3", "2024-01-02 00:00:00"))
    )
    assert run(lake, key="raw/sales/a.parquet", etag="a2", run_id="a2") == 0
    curated = read(spark, lake, "curated/sales")
    got = {(r.order_id, int(r.amount), r._source_etag) for r in curated.collect()}
    assert got == {(1, 100, "a2"), (3, 3, "a2"), (5, 5, "b1")}


@BOTH_FORMATS
def test_only_affected_partitions_are_rewritten(spark, lake):
    lake.put_table("raw/sales/a.parquet", orders(("1", "1", "2024-01-01 00:00:00")))
    lake.put_table("raw/sales/b.parquet", orders(("2", "2", "2024-01-02 00:00:00")))
    assert run(lake, key="raw/sales/a.parquet", run_id="a") == 0
    untouched = files_under(lake.path("curated/sales/order_date=2024-01-01"))
    assert untouched
    assert run(lake, key="raw/sales/b.parquet", run_id="b") == 0
    assert files_under(lake.path("curated/sales/order_date=2024-01-01")) == untouched
    assert read(spark, lake, "curated/sales").count() == 2


@BOTH_FORMATS
def test_keys_latest_wins_across_files(spark, lake):
    lake.put_table("raw/sales/a.parquet", orders(("1", "1", "2024-01-01 10:00:00")))
    lake.put_table("raw/sales/b.parquet", orders(("1", "2", "2024-01-01 09:00:00")))
    assert run(lake, key="raw/sales/a.parquet", run_id="a") == 0
    assert run(lake, key="raw/sales/b.parquet", run_id="b") == 0  # older order_ts: loses
    rows = read(spark, lake, "curated/sales").collect()
    assert [(r.order_id, int(r.amount)) for r in rows] == [(1, 1)]
    assert report(lake, "b")["rows"]["curated"] == 1


@BOTH_FORMATS
def test_a_key_that_moves_partition_leaves_its_old_one(spark, lake):
    lake.put_table("raw/sales/a.parquet", orders(("1", "1", "2024-01-01 10:00:00"), ("2", "2", "2024-01-01 11:00:00")))
    lake.put_table("raw/sales/b.parquet", orders(("1", "5", "2024-01-02 09:00:00"), ("3", "3", "2023-12-31 09:00:00")))
    lake.put_table("raw/sales/c.parquet", orders(("3", "4", "2024-01-03 09:00:00")))
    assert run(lake, key="raw/sales/a.parquet", run_id="a") == 0
    assert run(lake, key="raw/sales/b.parquet", run_id="b") == 0  # key 1 moves from 01-01 to 01-02
    assert run(lake, key="raw/sales/c.parquet", run_id="c") == 0  # key 3 alone in 12-31 moves to 01-03
    rows = read(spark, lake, "curated/sales").collect()
    assert sorted((r.order_id, int(r.amount), str(r.order_date)) for r in rows) == [
        (1, 5, "2024-01-02"),
        (2, 2, "2024-01-01"),
        (3, 4, "2024-01-03"),
    ]


@pytest.mark.parametrize(
    ("table_format", "pruned"),
    [("delta", True), ("parquet", True), ("parquet", False)],
    ids=["delta", "parquet-filter-on-partition-values", "parquet-join-for-many-partitions"],
    indirect=["table_format"],
)
def test_null_and_timestamp_partitions_are_replaced_and_emptied(spark, lake, monkeypatch, table_format, pruned):
    from watcher_job import merge

    if not pruned:
        monkeypatch.setattr(merge, "_MAX_PRUNED_PARTITIONS", 0)
    spec = {
        "columns": {"id": "int", "region": "string", "ts": "timestamp"},
        "keys": ["id"],
        "partitionBy": [{"name": "region", "expr": "region"}, {"name": "hour", "expr": "date_trunc('hour', ts)"}],
    }
    table = {"id": ["1", "2"], "region": [None, "eu"], "ts": ["2024-01-01 10:30:00", "2024-01-01 11:00:00"]}
    lake.put_table("raw/ev/a.parquet", table)
    lake.put_table("raw/ev/b.parquet", {"id": ["3"], "region": ["eu"], "ts": ["2024-01-01 11:15:00"]})
    assert run(lake, key="raw/ev/a.parquet", etag="a1", run_id="a1", spec=spec) == 0
    assert run(lake, key="raw/ev/b.parquet", etag="b1", run_id="b1", spec=spec) == 0
    # a.parquet v2: id 1 leaves the null-region partition (now empty), id 2 moves to another hour
    lake.put_table("raw/ev/a.parquet", {"id": ["1", "2"], "region": ["us", "eu"], "ts": ["2024-01-01 10:30:00"] * 2})
    assert run(lake, key="raw/ev/a.parquet", etag="a2", run_id="a2", spec=spec) == 0
    rows = read(spark, lake, "curated/ev").collect()
    got = sorted((r.id, r.region, str(r.hour), r._source_etag) for r in rows)
    assert got == [
        (1, "us", "2024-01-01 10:00:00", "a2"),
        (2, "eu", "2024-01-01 10:00:00", "a2"),
        (3, "eu", "2024-01-01 11:00:00", "b1"),
    ]


@BOTH_FORMATS
def test_an_older_row_in_another_partition_loses(spark, lake):
    lake.put_table("raw/sales/a.parquet", orders(("1", "1", "2024-01-02 10:00:00")))
    lake.put_table("raw/sales/b.parquet", orders(("1", "9", "2024-01-01 10:00:00")))
    assert run(lake, key="raw/sales/a.parquet", run_id="a") == 0
    assert run(lake, key="raw/sales/b.parquet", run_id="b") == 0
    rows = read(spark, lake, "curated/sales").collect()
    assert [(r.order_id, int(r.amount), str(r.order_date)) for r in rows] == [(1, 1, "2024-01-02")]


@BOTH_FORMATS
def test_no_keys_drops_duplicates_across_files(spark, lake):
    spec = {"columns": {"n": "int"}}
    lake.put_table("raw/plain/a.parquet", {"n": ["1", "2"]})
    lake.put_table("raw/plain/b.parquet", {"n": ["2", "3"]})
    assert run(lake, key="raw/plain/a.parquet", run_id="a", spec=spec) == 0
    assert run(lake, key="raw/plain/b.parquet", run_id="b", spec=spec) == 0
    assert sorted(r.n for r in read(spark, lake, "curated/plain").collect()) == [1, 2, 3]


@BOTH_FORMATS
def test_schema_widening(spark, lake):
    lake.put_table("raw/w/a.parquet", {"id": [1, 2]})
    lake.put_table("raw/w/b.parquet", {"id": [3], "extra": ["x"]})
    assert run(lake, key="raw/w/a.parquet", run_id="a", spec=None) == 0
    assert run(lake, key="raw/w/b.parquet", run_id="b", spec=None) == 0
    got = {(r.id, r.extra) for r in read(spark, lake, "curated/w").collect()}
    assert got == {(1, None), (2, None), (3, "x")}


@BOTH_FORMATS
def test_widening_with_partitions_keeps_new_column_visible(spark, lake):
    spec = {"partitionBy": [{"name": "p", "expr": "id % 2"}]}
    lake.put_table("raw/w/a.parquet", {"id": [1, 2]})
    lake.put_table("raw/w/b.parquet", {"id": [3], "extra": ["x"]})
    assert run(lake, key="raw/w/a.parquet", run_id="a", spec=spec) == 0
    assert run(lake, key="raw/w/b.parquet", run_id="b", spec=spec) == 0
    got = {(r.id, r.extra) for r in read(spark, lake, "curated/w").collect()}
    assert got == {(1, None), (2, None), (3, "x")}


@BOTH_FORMATS
def test_type_conflict_is_permanent_naming_column_and_types(spark, lake, capsys):
    lake.put_table("raw/t/a.parquet", {"id": [1], "v": [1]})
    lake.put_table("raw/t/b.parquet", {"id": [2], "v": ["text"]})
    assert run(lake, key="raw/t/a.parquet", run_id="a", spec=None) == 0
    assert run(lake, key="raw/t/b.parquet", run_id="b", spec=None) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("pipeline: permanent: ")
    assert "'v'" in last and "bigint" in last and "string" in last
    err = report(lake, "b")["error"]
    assert err["kind"] == "permanent" and err["type"] == "CuratedTypeConflict"
    assert report(lake, "b")["status"] == "failed"


def _typed(columns: dict) -> pa.Table:
    def values_of(type, values):
        return [Decimal(v) for v in values] if pa.types.is_decimal(type) else values

    return pa.table({name: pa.array(values_of(type, values), type) for name, (type, values) in columns.items()})


@BOTH_FORMATS
def test_narrower_types_widen_into_curated_losslessly(spark, lake):
    lake.put_table("raw/n/a.parquet", _typed({
        "id": (pa.int64(), [1]), "qty": (pa.int32(), [100_000]), "price": (pa.float64(), [0.1]),
        "amount": (pa.decimal128(10, 3), ["1234567.891"]),
    }))  # fmt: skip
    lake.put_table("raw/n/b.parquet", _typed({
        "id": (pa.int8(), [2]), "qty": (pa.int16(), [-7]), "price": (pa.float32(), [0.5]),
        "amount": (pa.decimal128(5, 2), ["123.45"]),
    }))  # fmt: skip
    assert run(lake, key="raw/n/a.parquet", run_id="a", spec=None) == 0
    assert run(lake, key="raw/n/b.parquet", run_id="b", spec=None) == 0
    curated = read(spark, lake, "curated/n")
    types = {f.name: f.dataType.simpleString() for f in curated.schema.fields}
    assert {k: types[k] for k in ("id", "qty", "price", "amount")} == {
        "id": "bigint", "qty": "int", "price": "double", "amount": "decimal(10,3)"
    }  # fmt: skip
    got = sorted((r.id, r.qty, r.price, str(r.amount)) for r in curated.collect())
    assert got == [(1, 100_000, 0.1, "1234567.891"), (2, -7, 0.5, "123.450")]


@BOTH_FORMATS
@pytest.mark.parametrize(
    ("first", "then", "shown"),
    [
        ((pa.int8(), [1]), (pa.int64(), [2]), ("tinyint", "bigint")),  # narrowing
        ((pa.float64(), [1.0]), (pa.float32(), [2.0]), None),  # widening: fine
        ((pa.decimal128(5, 2), ["1.00"]), (pa.decimal128(5, 3), ["1.000"]), ("decimal(5,2)", "decimal(5,3)")),
        ((pa.int64(), [1]), (pa.decimal128(20, 0), ["2"]), ("bigint", "decimal(20,0)")),
    ],
)
def test_a_narrowing_or_another_type_is_permanent_naming_both(spark, lake, capsys, first, then, shown):
    lake.put_table("raw/m/a.parquet", _typed({"id": (pa.int64(), [1]), "v": first}))
    lake.put_table("raw/m/b.parquet", _typed({"id": (pa.int64(), [2]), "v": then}))
    assert run(lake, key="raw/m/a.parquet", run_id="a", spec=None) == 0
    if shown is None:
        assert run(lake, key="raw/m/b.parquet", run_id="b", spec=None) == 0
        return
    assert run(lake, key="raw/m/b.parquet", run_id="b", spec=None) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"column 'v' is {shown[0]} in curated but {shown[1]} in the new rows" in last
    assert report(lake, "b")["error"]["type"] == "CuratedTypeConflict"


def _assert_permanent(lake, capsys, run_id, *, marker=None):
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert err_lines[-1].startswith("pipeline: permanent: "), err_lines[-1]
    if marker:
        assert marker in err_lines[-1]
    assert not any(line.startswith("Traceback") for line in err_lines)
    rep = report(lake, run_id)
    assert rep["status"] == "failed" and rep["error"]["kind"] == "permanent"
    return rep


def test_text_file_named_parquet_is_permanent(spark, lake, capsys):
    lake.put_bytes("raw/bad/text.parquet", b"id,name\n1,a\n")
    assert run(lake, key="raw/bad/text.parquet", spec=None) == 2
    rep = _assert_permanent(lake, capsys, "run-1")
    assert rep["error"]["type"] == "UnreadableInputError"
    assert not lake.path("cleaned").exists()


def test_truncated_parquet_is_permanent(spark, lake, capsys, tmp_path):
    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.table({"id": list(range(1000)), "s": [f"v{i}" for i in range(1000)]}), whole)
    data = whole.read_bytes()
    lake.put_bytes("raw/bad/cut.parquet", data[: len(data) // 2])
    assert run(lake, key="raw/bad/cut.parquet", spec=None) == 2
    _assert_permanent(lake, capsys, "run-1")


def test_corrupt_data_page_is_permanent(spark, lake, capsys, tmp_path):
    whole = tmp_path / "whole.parquet"
    table = pa.table({"s": [f"value-{i}" * 5 for i in range(5000)]})
    pq.write_table(table, whole, compression="snappy", use_dictionary=False)
    data = bytearray(whole.read_bytes())
    data[100:3000] = b"\xab" * 2900  # the footer stays valid: only reading the data finds it
    lake.put_bytes("raw/bad/page.parquet", bytes(data))
    assert run(lake, key="raw/bad/page.parquet", spec=None) == 2
    _assert_permanent(lake, capsys, "run-1")


def test_zero_byte_file_is_permanent(spark, lake, capsys):
    lake.put_bytes("raw/bad/empty.parquet", b"")
    assert run(lake, key="raw/bad/empty.parquet", spec=None) == 2
    _assert_permanent(lake, capsys, "run-1")


def test_missing_object_is_permanent(spark, lake, capsys):
    assert run(lake, key="raw/bad/gone.parquet", spec=None) == 2
    assert report(lake)["error"]["type"] == "InputNotFound"


def test_zero_row_parquet_succeeds_with_zero_counts(spark, lake):
    lake.put_table("raw/sales/none.parquet", orders())
    assert run(lake, key="raw/sales/none.parquet") == 0
    assert report(lake)["rows"] == {"read": 0, "cleaned": 0, "quarantined": 0, "curated": 0}
    assert read(spark, lake, "cleaned/sales/none").count() == 0
    quarantine = read(spark, lake, "quarantine/sales/none")
    assert quarantine.count() == 0 and "_errors" in quarantine.columns


def test_reprocess_replaces_an_older_quarantine(spark, lake):
    lake.put_table("raw/q/a.parquet", {"n": ["x"]})
    assert run(lake, key="raw/q/a.parquet", spec={"columns": {"n": "int"}}) == 0
    assert read(spark, lake, "quarantine/q/a").count() == 1
    lake.put_table("raw/q/a.parquet", {"n": ["1"]})
    assert run(lake, key="raw/q/a.parquet", etag="e2", spec={"columns": {"n": "int"}}) == 0
    assert read(spark, lake, "quarantine/q/a").count() == 0


@pytest.mark.parametrize(
    ("key", "spec", "marker"),
    [
        ("cleaned/sales/a.parquet", None, "not under raw/"),
        ("raw/../a.parquet", None, "'..'"),
        (KEY, {"columns": {"order_id": "notatype"}}, "spec.columns.order_id"),
        (KEY, {"rules": [{"name": "bad_rule", "expr": "amount >>> 0"}]}, "bad_rule"),
        (KEY, {"columns": {"missing_col": "int"}}, "missing_col"),
        (KEY, {"orderBy": ["order_ts"]}, "spec.orderBy"),
    ],
)
def test_invalid_key_or_spec_is_permanent(spark, lake, capsys, key, spec, marker):
    lake.put_table(KEY, orders(*DIRTY))
    assert run(lake, key=key, spec=spec) == 2
    _assert_permanent(lake, capsys, "run-1", marker=marker)


def test_bad_arguments_exit_2_without_spark_work(lake, capsys):
    assert pipeline.main(["--lake", lake.uri, "--key", KEY]) == 2
    assert capsys.readouterr().err.strip().startswith("pipeline: permanent: ")
    assert pipeline.main(["--lake", "http://nope", "--key", KEY, "--etag", "e", "--run-id", "r"]) == 2


def test_run_job_raises_typed_errors_and_keeps_the_session(spark, lake):
    with pytest.raises(PermanentJobError) as info:
        run_job(spark, JobArgs(lake=lake.uri, key="raw/nothing/here.parquet", etag="e", run_id="r"))
    assert info.value.report["status"] == "failed"
    assert spark.range(1).count() == 1  # session still usable
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def test_custom_report_uri_and_key_directly_under_raw(spark, lake):
    lake.put_table("raw/x.parquet", {"A": [1]})
    target = lake.path("elsewhere/report.json")
    assert run(lake, key="raw/x.parquet", spec=None, extra=["--report", f"file://{target}"]) == 0
    rep = json.loads(target.read_text())
    assert rep["dataset"] == "default"
    assert rep["outputs"]["cleaned"] == lake.out("cleaned/default/x")
    assert read(spark, lake, "curated/default").collect()[0].a == 1


def test_nested_columns_reach_curated_and_glob_chars_in_key(spark, lake):
    table = pa.table(
        {
            "id": [1, 1],
            "tags": [["a"], ["a"]],
            "attrs": pa.array([[("k", "v")], [("k", "v")]], pa.map_(pa.string(), pa.string())),
        }
    )
    lake.put_table("raw/nested/a[1] b.parquet", table)
    assert run(lake, key="raw/nested/a[1] b.parquet", spec=None) == 0
    assert report(lake)["rows"] == {"read": 2, "cleaned": 1, "quarantined": 0, "curated": 1}
    assert read(spark, lake, "curated/nested").collect()[0].attrs == {"k": "v"}


def test_int96_and_ancient_dates_are_read_and_written_as_they_are(spark, lake):
    # Written by pyarrow (no Spark metadata): Spark 3.5 would refuse dates before 1582 by default.
    seen = [datetime(2026, 11, 1, 9, 15, 0, 123456), datetime(1900, 1, 1), datetime(1, 1, 1)]
    born = [datetime(2026, 11, 1).date(), datetime(1900, 1, 1).date(), datetime(1, 1, 1).date()]
    table = pa.table({"id": [1, 2, 3], "seen_at": pa.array(seen, pa.timestamp("us")), "born_on": born})
    target = lake.path("raw/old/legacy.parquet")
    target.parent.mkdir(parents=True)
    pq.write_table(table, target, use_deprecated_int96_timestamps=True)
    assert pq.ParquetFile(target).schema.column(1).physical_type == "INT96"
    before = spark.conf.get("spark.sql.parquet.outputTimestampType")
    assert run(lake, key="raw/old/legacy.parquet", spec=None) == 0
    for zone in ("cleaned/old/legacy", "curated/old"):
        folder = lake.path(zone)
        part = next(p for p in folder.rglob("*.parquet") if not p.name.startswith("."))
        # INT64 microseconds, not INT96: pyarrow/pandas read it back without overflowing.
        assert pq.ParquetFile(part).schema.column(1).physical_type == "INT64", zone
        back = pq.read_table(folder).sort_by("id")
        assert back.column("seen_at").to_pylist() == [t.replace(tzinfo=UTC) for t in seen], zone
        assert back.column("born_on").to_pylist() == born, zone
    assert spark.conf.get("spark.sql.parquet.outputTimestampType") == before  # the session's own setting is back


def test_key_with_a_colon_is_permanent_naming_it(spark, lake, capsys):
    lake.put_table("raw/t/2026-11-01T10:00:00.parquet", {"a": [1]})
    assert run(lake, key="raw/t/2026-11-01T10:00:00.parquet", spec=None) == 2
    rep = _assert_permanent(lake, capsys, "run-1", marker="rename the object")
    assert rep["error"]["type"] == "InvalidKeyError"


def test_unexpected_error_is_retryable_with_traceback(spark, lake, capsys, monkeypatch):
    import watcher_job.job as job_module

    def boom(*args, **kwargs):
        raise ValueError("simulated bug")

    monkeypatch.setattr(job_module, "merge_into_curated", boom)
    lake.put_table(KEY, orders(*DIRTY))
    assert run(lake) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("Traceback") and "simulated bug" in "\n".join(err)
    assert err[-1] == "pipeline: retryable: unexpected ValueError: simulated bug"
    rep = report(lake)
    assert rep["status"] == "failed" and rep["error"] == {
        "kind": "retryable",
        "type": "Unexpected",
        "message": "unexpected ValueError: simulated bug",
    }
    assert rep["rows"]["read"] == 8
