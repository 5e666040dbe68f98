"""The batch form (`--manifest`): many file versions of one dataset in one run, through
`pipeline.main` on `file://` lakes. Runs on Python 3.9 too (the emr-7.x job's Python)."""

from __future__ import annotations

import json
import os
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import Lake, rows_of

import pipeline
from watcher_job import batch as batch_module

SPEC = {
    "columns": {"order_id": "bigint", "amount": "decimal(10,2)", "order_ts": "timestamp"},
    "rules": [{"name": "amount_non_negative", "expr": "amount >= 0"}],
    "keys": ["order_id"],
    "orderBy": ["order_ts"],
    "partitionBy": [{"name": "order_date", "expr": "to_date(order_ts)"}],
}
UNPARTITIONED = {k: v for k, v in SPEC.items() if k != "partitionBy"}
NO_KEYS = {"columns": SPEC["columns"], "rules": SPEC["rules"], "partitionBy": SPEC["partitionBy"]}
MTIME = 1_767_000_000  # raw files get distinct, increasing modification times (= _ingested_at)


def orders(*rows):
    def column(i):
        return pa.array([r[i] for r in rows], pa.string())

    return pa.table({"Order ID": column(0), "Amount($)": column(1), "orderTs": column(2)})


def put(lake: Lake, key: str, table, n: int) -> None:
    """Write a raw file whose modification time is MTIME + n seconds."""
    path = lake.put_table(key, table)
    os.utime(path, (MTIME + n, MTIME + n))


def copy_lake(source: Lake, target: Lake, folder: str = "") -> None:
    """The same files (modification times included) in another lake: all, or one folder."""
    shutil.copytree(source.path(folder), target.path(folder), copy_function=shutil.copy2, dirs_exist_ok=True)


def manifest(lake: Lake, run_id: str, files, dataset="sales") -> str:
    body = {"version": 1, "runId": run_id, "dataset": dataset, "files": [{"key": k, "etag": e} for k, e in files]}
    path = lake.path(f"metadata/batches/{run_id}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))
    return f"file://{path}"


def run_batch(lake: Lake, run_id: str, files, spec=SPEC, dataset="sales") -> int:
    uri = manifest(lake, run_id, files, dataset)
    argv = ["--lake", lake.uri, "--manifest", uri, "--run-id", run_id]
    return pipeline.main([*argv, "--spec", json.dumps(spec)] if spec is not None else argv)


def run_single(lake: Lake, key: str, etag: str, run_id: str, spec=SPEC) -> int:
    argv = ["--lake", lake.uri, "--key", key, "--etag", etag, "--run-id", run_id]
    return pipeline.main([*argv, "--spec", json.dumps(spec)] if spec is not None else argv)


def report(lake: Lake, run_id: str) -> dict:
    return json.loads(lake.path(f"metadata/runs/{run_id}.json").read_text())


def table(spark, lake: Lake, rel: str) -> list:
    return rows_of(lake.read(spark, rel))


def output_folder(key: str, zone: str) -> str:
    return zone + "/" + key[len("raw/") : -len(".parquet")]


# Three files of one dataset: duplicates within a file and across files, a late update that loses
# (an older order_ts than the row already there), one that wins, a key that moves partition, a
# row that fails a check, and a file whose rows all lose.
FILES = [
    ("raw/sales/2024/a.parquet", "a1", orders(
        ("1", "10", "2024-01-01 10:00:00"), ("2", "20", "2024-01-01 11:00:00"), ("2", "20", "2024-01-01 11:00:00"),
        ("3", "30", "2024-01-01 12:00:00"), ("3", "31", "2024-01-01 13:00:00"), ("5", "50", "2024-01-02 09:00:00"),
    )),
    ("raw/sales/2024/b.parquet", "b1", orders(
        ("1", "11", "2024-01-01 09:00:00"), ("3", "32", "2024-01-03 08:00:00"), ("5", "50", "2024-01-02 09:00:00"),
        ("6", "-1", "2024-01-02 10:00:00"), ("7", "70", "2024-01-02 10:00:00"), ("7", "70", "2024-01-02 10:00:00"),
    )),
    ("raw/sales/2024/c.parquet", "c1", orders(
        ("2", "21", "2024-01-04 11:00:00"), ("1", "9", "2024-01-01 08:00:00"), ("8", "80", "2024-01-04 12:00:00"),
    )),
]  # fmt: skip


@pytest.mark.parametrize(
    "spec",
    [SPEC, UNPARTITIONED, NO_KEYS, {**SPEC, "tableFormat": "parquet"}, {**NO_KEYS, "tableFormat": "parquet"}],
    ids=["keys-partitioned", "keys-unpartitioned", "no-keys", "keys-partitioned-parquet", "no-keys-parquet"],
)
def test_a_batch_gives_what_the_files_one_by_one_give(spark, tmp_path, spec):
    one_by_one, batched = Lake(tmp_path / "one"), Lake(tmp_path / "batch")
    for n, (key, _, rows) in enumerate(FILES):
        put(one_by_one, key, rows, n)
    copy_lake(one_by_one, batched, "raw")
    for n, (key, etag, _) in enumerate(FILES):
        assert run_single(one_by_one, key, etag, f"one-{n}", spec) == 0
    assert run_batch(batched, "batch-1", [(k, e) for k, e, _ in FILES], spec) == 0

    assert table(spark, batched, "curated/sales") == table(spark, one_by_one, "curated/sales")
    rep = report(batched, "batch-1")
    for n, (key, etag, _) in enumerate(FILES):
        for zone in ("cleaned", "quarantine"):
            folder = output_folder(key, zone)
            assert table(spark, batched, folder) == table(spark, one_by_one, folder), folder
        single = report(one_by_one, f"one-{n}")
        entry = rep["files"][n]
        assert (entry["key"], entry["etag"], entry["status"]) == (key, etag, "succeeded")
        assert entry["rows"] == single["rows"]
        assert entry["outputs"] == {k: v.replace(one_by_one.uri, batched.uri) for k, v in single["outputs"].items()}
        assert "error" not in entry
    assert rep["status"] == "succeeded" and "key" not in rep and "etag" not in rep
    assert rep["rows"] == {k: sum(f["rows"][k] for f in rep["files"]) for k in rep["rows"]}
    assert rep["outputs"] == {"curated": batched.out("curated/sales")}
    assert rep["manifest"] == batched.out("metadata/batches/batch-1.json")
    assert rep["dataset"] == "sales" and rep["runId"] == "batch-1"


@pytest.mark.parametrize("spec", [SPEC, NO_KEYS], ids=["keys-partitioned", "no-keys"])
def test_a_batch_of_new_files_into_an_existing_table_gives_what_one_by_one_gives(spark, tmp_path, spec):
    """The table holds no row of the batch's files (a backlog after a first run): the Delta merge
    skips looking for rows to delete, and the result is still the one-by-one result."""
    one_by_one, batched = Lake(tmp_path / "one"), Lake(tmp_path / "batch")
    for n, (key, _, rows) in enumerate(FILES):
        put(one_by_one, key, rows, n)
    copy_lake(one_by_one, batched, "raw")
    for n, (key, etag, _) in enumerate(FILES):
        assert run_single(one_by_one, key, etag, f"one-{n}", spec) == 0
    first_key, first_etag, _ = FILES[0]
    assert run_single(batched, first_key, first_etag, "first", spec) == 0
    assert run_batch(batched, "batch-1", [(k, e) for k, e, _ in FILES[1:]], spec) == 0

    assert batched.is_delta("curated/sales")
    assert table(spark, batched, "curated/sales") == table(spark, one_by_one, "curated/sales")
    rep = report(batched, "batch-1")
    for n, entry in enumerate(rep["files"], start=1):
        assert (entry["status"], entry["rows"]) == ("succeeded", report(one_by_one, f"one-{n}")["rows"])


def test_reprocessing_in_a_batch_where_the_new_version_still_wins(spark, tmp_path):
    one_by_one, batched = Lake(tmp_path / "one"), Lake(tmp_path / "batch")
    a1 = orders(("1", "1", "2024-01-01 10:00:00"), ("2", "2", "2024-01-03 10:00:00"))
    put(one_by_one, "raw/sales/a.parquet", a1, 0)
    put(one_by_one, "raw/sales/b.parquet", orders(("3", "3", "2024-01-01 10:00:00")), 1)
    assert run_batch(one_by_one, "first", [("raw/sales/a.parquet", "a1"), ("raw/sales/b.parquet", "b1")]) == 0
    # a.parquet v2 drops order 2 (its partition empties) and updates order 1; c.parquet is new
    put(one_by_one, "raw/sales/a.parquet", orders(("1", "100", "2024-01-02 10:00:00")), 2)
    c1 = orders(("4", "4", "2024-01-01 10:00:00"), ("3", "30", "2024-01-01 09:00:00"))
    put(one_by_one, "raw/sales/c.parquet", c1, 3)
    copy_lake(one_by_one, batched)
    assert run_single(one_by_one, "raw/sales/a.parquet", "a2", "a2") == 0
    assert run_single(one_by_one, "raw/sales/c.parquet", "c1", "c1") == 0
    assert run_batch(batched, "second", [("raw/sales/a.parquet", "a2"), ("raw/sales/c.parquet", "c1")]) == 0
    got = table(spark, batched, "curated/sales")
    assert got == table(spark, one_by_one, "curated/sales")
    assert sorted((r["order_id"], int(r["amount"]), r["_source_etag"]) for r in got) == [
        (1, 100, "a2"), (3, 3, "b1"), (4, 4, "c1")
    ]  # fmt: skip
    assert report(batched, "second")["files"][1]["rows"]["curated"] == 2  # offered; order 3 lost


def test_a_batch_keeps_a_row_that_one_by_one_loses_to_a_replaced_version(spark, tmp_path):
    """The documented difference (README, merge.py): one by one, A's row for order 1 loses to
    b.parquet's OLD row and is dropped; b.parquet's new version no longer has order 1, so order 1
    is gone. The batch removes b.parquet's old rows first: A's row is what the current versions imply."""
    one_by_one, batched = Lake(tmp_path / "one"), Lake(tmp_path / "batch")
    b1 = orders(("1", "10", "2024-01-01 10:00:00"), ("2", "2", "2024-01-01 10:00:00"))
    put(one_by_one, "raw/sales/b.parquet", b1, 0)
    assert run_single(one_by_one, "raw/sales/b.parquet", "b1", "b1") == 0
    put(one_by_one, "raw/sales/a.parquet", orders(("1", "5", "2024-01-01 05:00:00")), 1)
    put(one_by_one, "raw/sales/b.parquet", orders(("2", "3", "2024-01-01 11:00:00")), 2)
    copy_lake(one_by_one, batched)
    assert run_single(one_by_one, "raw/sales/a.parquet", "a1", "a1") == 0
    assert run_single(one_by_one, "raw/sales/b.parquet", "b2", "b2") == 0
    assert run_batch(batched, "batch", [("raw/sales/a.parquet", "a1"), ("raw/sales/b.parquet", "b2")]) == 0

    def got(lake):
        return sorted((r["order_id"], int(r["amount"]), r["_source_etag"]) for r in table(spark, lake, "curated/sales"))

    assert got(one_by_one) == [(2, 3, "b2")]
    assert got(batched) == [(1, 5, "a1"), (2, 3, "b2")]


def corrupt_page(rows: int) -> bytes:
    """A Parquet file with the orders' columns whose footer is fine but whose data pages are not."""
    ids = [str(i) for i in range(rows)]
    whole = orders(*[(i, "1" * 40 + i, "2024-01-05 10:00:00") for i in ids])
    sink = pa.BufferOutputStream()
    pq.write_table(whole, sink, compression="snappy", use_dictionary=False)
    data = bytearray(sink.getvalue().to_pybytes())
    data[100:3000] = b"\xab" * 2900
    return bytes(data)


def test_poison_files_fail_alone_and_the_others_commit(spark, lake, capsys, tmp_path):
    good = [("raw/sales/good1.parquet", orders(("1", "1", "2024-01-01 10:00:00"), ("x", "2", "2024-01-01 10:00:00"))),
            ("raw/sales/good2.parquet", orders(("2", "2", "2024-01-02 10:00:00")))]  # fmt: skip
    for n, (key, rows) in enumerate(good):
        put(lake, key, rows, n)
    lake.put_bytes("raw/sales/text.parquet", b"order_id,amount\n1,2\n")
    whole = tmp_path / "whole.parquet"
    pq.write_table(orders(*[(str(i), "1", "2024-01-01 10:00:00") for i in range(2000)]), whole)
    lake.put_bytes("raw/sales/cut.parquet", whole.read_bytes()[:1500])
    lake.put_bytes("raw/sales/page.parquet", corrupt_page(5000))  # same schema as the good files
    lake.put_table("raw/sales/nocol.parquet", {"Order ID": ["9"], "orderTs": ["2024-01-01 10:00:00"]})
    lake.put_table("raw/sales/extra1.parquet", {"Order ID": ["5"], "Amount($)": ["5"],
                   "orderTs": ["2024-01-01 10:00:00"], "note": pa.array([1], pa.int64())})  # fmt: skip
    lake.put_table("raw/sales/extra2.parquet", {"Order ID": ["6"], "Amount($)": ["6"],
                   "orderTs": ["2024-01-01 10:00:00"], "note": ["text"]})  # fmt: skip
    files = ["good1", "text", "cut", "page", "nocol", "extra1", "extra2", "gone", "good2"]
    entries = [(f"raw/sales/{name}.parquet", f"e-{name}") for name in files]
    assert run_batch(lake, "poison", [*entries, ("raw/sales/bad:name.parquet", "e")]) == 0
    assert capsys.readouterr().err == ""

    rep = report(lake, "poison")
    outcome = {e["key"].split("/")[-1]: (e["status"], e.get("error", {}).get("type")) for e in rep["files"]}
    assert outcome == {
        "good1.parquet": ("succeeded", None),
        "text.parquet": ("failed", "UnreadableInputError"),
        "cut.parquet": ("failed", "UnreadableInputError"),
        "page.parquet": ("failed", "UnreadableInputError"),
        "nocol.parquet": ("failed", "MissingColumnError"),
        "extra1.parquet": ("succeeded", None),
        "extra2.parquet": ("failed", "CuratedTypeConflict"),
        "gone.parquet": ("failed", "InputNotFound"),
        "good2.parquet": ("succeeded", None),
        "bad:name.parquet": ("failed", "InvalidKeyError"),
    }
    errors = {e["key"].split("/")[-1]: e.get("error") for e in rep["files"]}
    assert errors["nocol.parquet"]["kind"] == "permanent" and "'amount'" in errors["nocol.parquet"]["message"]
    conflict = errors["extra2.parquet"]["message"]
    assert "'note'" in conflict and "raw/sales/extra1.parquet" in conflict and "bigint" in conflict
    assert [e["rows"] for e in rep["files"]][:2] == [
        {"read": 2, "cleaned": 2, "quarantined": 1, "curated": 1},
        {"read": None, "cleaned": None, "quarantined": None, "curated": None},
    ]
    assert rep["status"] == "succeeded" and rep["rows"]["read"] == 4

    curated = sorted((r["order_id"], r["_source_key"]) for r in table(spark, lake, "curated/sales"))
    assert curated == [(1, "raw/sales/good1.parquet"), (2, "raw/sales/good2.parquet"), (5, "raw/sales/extra1.parquet")]
    assert [r["order_id"] for r in table(spark, lake, "quarantine/sales/good1")] == ["x"]
    assert [r["order_id"] for r in table(spark, lake, "cleaned/sales/good2")] == [2]
    for name in ("text", "cut", "page", "nocol", "extra2"):  # a failed file writes nothing
        assert not lake.path(f"cleaned/sales/{name}").exists() and not lake.path(f"quarantine/sales/{name}").exists()


def test_a_changed_partitioning_fails_every_file(spark, lake):
    put(lake, "raw/sales/a.parquet", orders(("1", "1", "2024-01-01 10:00:00")), 0)
    assert run_batch(lake, "first", [("raw/sales/a.parquet", "a1")]) == 0
    put(lake, "raw/sales/b.parquet", orders(("2", "2", "2024-01-01 10:00:00")), 1)
    files = [("raw/sales/a.parquet", "a1"), ("raw/sales/b.parquet", "b1")]
    assert run_batch(lake, "second", files, spec=UNPARTITIONED) == 0
    for entry in report(lake, "second")["files"]:
        assert entry["status"] == "failed" and entry["error"]["type"] == "CuratedPartitioningConflict"
        assert "partitioned by ['order_date']" in entry["error"]["message"]


def test_reprocessing_the_same_batch_changes_nothing(spark, lake):
    for n, (key, _, rows) in enumerate(FILES):
        put(lake, key, rows, n)
    files = [(k, e) for k, e, _ in FILES]
    assert run_batch(lake, "first", files) == 0
    zones = ["curated/sales"] + [output_folder(k, z) for k, _ in files for z in ("cleaned", "quarantine")]
    before = {z: table(spark, lake, z) for z in zones}
    assert run_batch(lake, "again", files) == 0
    assert {z: table(spark, lake, z) for z in zones} == before
    assert [f["rows"] for f in report(lake, "again")["files"]] == [f["rows"] for f in report(lake, "first")["files"]]


def test_a_retryable_failure_fails_the_whole_run(spark, lake, capsys, monkeypatch):
    def boom(*args, **kwargs):
        raise ValueError("simulated bug")

    monkeypatch.setattr(batch_module, "merge_into_curated", boom)
    put(lake, "raw/sales/a.parquet", orders(("1", "1", "2024-01-01 10:00:00")), 0)
    assert run_batch(lake, "boom", [("raw/sales/a.parquet", "a1"), ("raw/sales/gone.parquet", "g1")]) == 1
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == "pipeline: retryable: unexpected ValueError: simulated bug"
    rep = report(lake, "boom")
    assert rep["status"] == "failed" and rep["error"]["type"] == "Unexpected"
    assert [(f["status"], f.get("error", {}).get("type")) for f in rep["files"]] == [
        ("failed", None), ("failed", "InputNotFound")
    ]  # fmt: skip
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def _manifest_text(**change):
    body = {"version": 1, "runId": "run-1", "dataset": "sales", "files": [{"key": "raw/sales/a.parquet", "etag": "e"}]}
    body.update(change)
    return json.dumps({k: v for k, v in body.items() if v is not None})


@pytest.mark.parametrize(
    ("text", "marker"),
    [
        (None, "not found"),
        ("{not json", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        (_manifest_text(version=2), "version must be 1, got 2"),
        (_manifest_text(runId="other"), "runId 'other' is not this run's --run-id 'run-1'"),
        (_manifest_text(files=[]), "files must be a non-empty list"),
        (_manifest_text(files=[{"key": "raw/sales/a.parquet"}]), "files[0] must be an object with a string key"),
        (
            _manifest_text(files=[{"key": "raw/sales/a.parquet", "etag": str(n)} for n in (1, 2)]),
            "files[1]: key 'raw/sales/a.parquet' is listed twice",
        ),
        (_manifest_text(files=[{"key": "raw/other/a.parquet", "etag": "1"}]), "dataset 'other', not the manifest's"),
        (_manifest_text(dataset="a/b"), "dataset must be a folder name"),
    ],
    ids="missing not-json not-object version run-id no-files no-etag twice dataset bad-dataset".split(),
)
def test_an_unusable_manifest_exits_2_naming_the_problem(spark, lake, capsys, text, marker):
    path = lake.path("metadata/batches/run-1.json")
    if text is not None:
        path.parent.mkdir(parents=True)
        path.write_text(text)
    argv = ["--lake", lake.uri, "--manifest", f"file://{path}", "--run-id", "run-1"]
    assert pipeline.main(argv) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("pipeline: permanent: manifest ") and marker in last, last
    rep = report(lake, "run-1")
    assert rep["status"] == "failed" and rep["files"] == [] and rep["error"]["type"] == "InvalidManifestError"


@pytest.mark.parametrize(
    ("argv", "marker"),
    [
        (["--manifest", "file:///m.json", "--key", "raw/a.parquet", "--etag", "e"], "mutually exclusive"),
        (["--manifest", "file:///m.json", "--etag", "e"], "mutually exclusive"),
        (["--key", "raw/a.parquet"], "required: --etag"),
        ([], "required: --key, --etag (or --manifest"),
        (["--manifest", "http://m.json"], "--manifest must start with"),
    ],
)
def test_one_form_of_arguments_exactly(spark, lake, capsys, argv, marker):
    assert pipeline.main(["--lake", lake.uri, "--run-id", "r", *argv]) == 2
    assert marker in capsys.readouterr().err.strip().splitlines()[-1]


def test_narrower_types_widen_in_a_batch_as_they_do_one_by_one(spark, tmp_path):
    """Into a table whose `qty` is bigint (made by a first file), a batch of an int file, then a
    bigint one, then a tinyint one: all three go in, as one by one; a wider file after a narrower
    one in a batch with no table yet fails alone, as one by one (the table takes the first type)."""

    def qty(key_id: str, values: list[int], type) -> pa.Table:
        return pa.table({"id": pa.array([f"{key_id}{i}" for i in range(len(values))]), "qty": pa.array(values, type)})

    files = {
        "raw/w/0.parquet": qty("a", [1], pa.int64()),
        "raw/w/1.parquet": qty("b", [2, 3], pa.int32()),
        "raw/w/2.parquet": qty("c", [2**40], pa.int64()),
        "raw/w/3.parquet": qty("d", [-4], pa.int8()),
    }
    spec = {"keys": ["id"]}
    one, batched = Lake(tmp_path / "one"), Lake(tmp_path / "batched")
    for n, (key, t) in enumerate(files.items()):
        put(one, key, t, n)
        put(batched, key, t, n)
    for key in files:
        assert run_single(one, key, "e", f"r{key[-9]}", spec=spec) == 0
    assert run_single(batched, "raw/w/0.parquet", "e", "r0", spec=spec) == 0
    assert run_batch(batched, "b", [(k, "e") for k in list(files)[1:]], spec=spec, dataset="w") == 0
    assert [f["status"] for f in report(batched, "b")["files"]] == ["succeeded"] * 3

    def curated(lake: Lake) -> tuple[str, list]:
        df = lake.read(spark, "curated/w")
        return df.schema["qty"].dataType.simpleString(), sorted((r.id, r.qty) for r in df.collect())

    assert curated(batched) == curated(one) == ("bigint", [("a0", 1), ("b0", 2), ("b1", 3), ("c0", 2**40), ("d0", -4)])

    fresh = Lake(tmp_path / "fresh")
    put(fresh, "raw/w/1.parquet", files["raw/w/1.parquet"], 0)
    put(fresh, "raw/w/2.parquet", files["raw/w/2.parquet"], 1)
    assert run_batch(fresh, "f", [("raw/w/1.parquet", "e"), ("raw/w/2.parquet", "e")], spec=spec, dataset="w") == 0
    entries = report(fresh, "f")["files"]
    assert [f["status"] for f in entries] == ["succeeded", "failed"]
    expected = "column 'qty' is int in 'raw/w/1.parquet', an earlier file of this batch, but bigint"
    assert expected in entries[1]["error"]["message"]
