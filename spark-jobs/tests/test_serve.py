"""The long-lived worker's request handling (watcher_job/serve.py), on the test session."""

import json

import pytest

from watcher_job.errors import RetryableJobError
from watcher_job.serve import connection_lost, handle, parse_request

KEY = "raw/people/people.parquet"


def request(lake, **job):
    return {"id": "req-1", "job": {"lake": lake.uri, "key": KEY, "etag": "e1", "runId": "run-1", **job}}


def test_a_good_file_gives_exit_0_and_the_report_it_wrote(spark, lake):
    lake.put_table(KEY, {"Name": [" Ada ", "Alan"], "age": [36, 41]})
    reply = handle(spark, *parse_request(request(lake)))
    assert reply["exitCode"] == 0 and reply["id"] == "req-1"
    assert reply["report"]["rows"] == {"read": 2, "cleaned": 2, "quarantined": 0, "curated": 2}
    assert set(reply["report"]["timingsMs"]) == {"read", "plan", "check", "write", "curate"}
    written = json.loads(lake.path("metadata/runs/run-1.json").read_text())
    assert written == reply["report"]


def test_unusable_input_keeps_the_contracts_permanent_meaning(spark, lake):
    lake.put_bytes(KEY, b"name,age\nAda,36\n")
    reply = handle(spark, *parse_request(request(lake)))
    assert reply["exitCode"] == 2 and reply["kind"] == "permanent" and not reply["connectionLost"]
    assert "Parquet" in reply["message"]
    assert reply["report"]["status"] == "failed"


def test_a_spec_is_passed_as_json_text(spark, lake):
    lake.put_table(KEY, {"Name": ["Ada"], "age": ["x"]})
    spec = json.dumps({"columns": {"age": "int"}, "required": ["age"]})
    reply = handle(spark, *parse_request(request(lake, spec=spec)))
    assert reply["exitCode"] == 0 and reply["report"]["rows"]["quarantined"] == 1


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ([], "a request is"),
        ({"id": 7, "job": {}}, "a request is"),
        ({"id": "x", "job": []}, "a request is"),
        ({"id": "x", "job": {"lake": "file:///l", "key": "raw/a.parquet", "etag": "e"}}, "job.runId"),
        ({"id": "x", "job": {"lake": "l", "key": "raw/a.parquet", "etag": "e", "runId": "r", "spec": {}}}, "job.spec"),
    ],
)
def test_a_malformed_request_is_refused_with_the_field_named(message, problem):
    with pytest.raises(ValueError, match=problem):
        parse_request(message)


def test_a_lost_connect_server_is_recognised_through_the_cause_chain():
    grpc = pytest.importorskip("grpc", reason="the Spark Connect client is not installed (requirements-spark35.txt)")
    from pyspark.errors.exceptions.connect import SparkConnectGrpcException

    lost = SparkConnectGrpcException("<RPC terminated with: status = StatusCode.UNAVAILABLE>")
    wrapped = RetryableJobError("reading failed")
    wrapped.__cause__ = lost
    assert connection_lost(wrapped)
    assert not connection_lost(RetryableJobError("executor lost"))
    assert grpc.StatusCode.UNAVAILABLE.name in str(lost)


def test_a_batch_request_runs_the_manifest_and_replies_with_its_report(spark, lake):
    lake.put_table(KEY, {"Name": ["Ada"], "age": [36]})
    target = lake.path("metadata/batches/b-1.json")
    target.parent.mkdir(parents=True)
    files = [{"key": KEY, "etag": "e1"}, {"key": "raw/people/gone.parquet", "etag": "e2"}]
    target.write_text(json.dumps({"version": 1, "runId": "b-1", "dataset": "people", "files": files}))
    message = {"id": "req-2", "job": {"lake": lake.uri, "manifest": f"file://{target}", "runId": "b-1"}}
    request_id, args = parse_request(message)
    reply = handle(spark, request_id, args)
    assert reply["exitCode"] == 0 and reply["id"] == "req-2"
    assert [(f["key"], f["status"]) for f in reply["report"]["files"]] == [
        (KEY, "succeeded"),
        ("raw/people/gone.parquet", "failed"),
    ]
    assert reply["report"]["files"][0]["rows"] == {"read": 1, "cleaned": 1, "quarantined": 0, "curated": 1}
    assert json.loads(lake.path("metadata/runs/b-1.json").read_text()) == reply["report"]
    target.write_text("not json")
    reply = handle(spark, *parse_request(message))
    assert reply["exitCode"] == 2 and reply["errorType"] == "InvalidManifestError"
    assert "not valid JSON" in reply["message"]


def test_a_batch_request_takes_no_key(lake):
    job = {"lake": lake.uri, "manifest": "file:///m.json", "runId": "r", "key": KEY, "etag": "e"}
    with pytest.raises(ValueError, match="mutually exclusive"):
        parse_request({"id": "x", "job": job})
    with pytest.raises(ValueError, match=r"job\.runId"):
        parse_request({"id": "x", "job": {"lake": lake.uri, "manifest": "file:///m.json"}})
