"""The batch manifest: which file versions of one dataset a batch run processes.

    {"version": 1, "runId": "<id>", "dataset": "<dataset>",
     "files": [{"key": "raw/<dataset>/...", "etag": "..."}, ...]}

The controller writes it (at `<lake>/metadata/batches/<run-id>.json`); the job reads it through
Spark (`spark.read.text(wholetext=True)`), so `file://`, `s3a://` and `s3://` work alike, also over
Spark Connect, without boto3 or a Hadoop FileSystem handle. An unusable manifest is an
`InvalidManifestError` (exit 2) naming the problem; a transient failure to read it is retryable.
Unknown fields are ignored. A key that is not a usable raw key is not the manifest's problem:
that file fails on its own in the run (`InvalidKeyError`), as it would in the single form.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pyspark.sql import SparkSession

from watcher_job.errors import InvalidKeyError, InvalidManifestError, RetryableJobError
from watcher_job.lake import escape_glob, parse_key
from watcher_job.sparkio import NOT_FOUND_MARKERS, SPARK_ERRORS, TRANSIENT_MARKERS, has_marker, marked_line, one_line

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ManifestFile:
    key: str
    etag: str


@dataclass(frozen=True)
class Manifest:
    run_id: str
    dataset: str
    files: tuple[ManifestFile, ...]


def read_manifest(spark: SparkSession, uri: str, run_id: str) -> Manifest:
    """Read the manifest at `uri` (one file, or a folder holding one part file) and validate it."""
    try:
        rows = spark.read.text(escape_glob(uri), wholetext=True).collect()
    except SPARK_ERRORS as exc:
        if has_marker(exc, TRANSIENT_MARKERS):
            reason = marked_line(exc, TRANSIENT_MARKERS)
            raise RetryableJobError(f"reading the manifest {uri} failed: {reason}", type="ManifestReadFailed") from exc
        if has_marker(exc, NOT_FOUND_MARKERS):
            raise InvalidManifestError(f"manifest {uri} not found") from exc
        raise RetryableJobError(
            f"reading the manifest {uri} failed: {one_line(exc)}", type="ManifestReadFailed"
        ) from exc
    if len(rows) != 1:
        raise InvalidManifestError(f"manifest {uri} must be one file, found {len(rows)}")
    return parse_manifest(rows[0][0], uri=uri, run_id=run_id)


def _refuse(uri: str, problem: str) -> InvalidManifestError:
    return InvalidManifestError(f"manifest {uri}: {problem}")


def check_dataset_name(name: object) -> str:
    """A dataset names the folders `curated/<dataset>/` etc.: one plain path segment."""
    if not isinstance(name, str) or name in ("", ".", "..") or any(c in name for c in "/:\x00"):
        raise ValueError(f"dataset must be a folder name (no '/', ':'), got {name!r}")
    return name


def parse_manifest(text: str, *, uri: str, run_id: str) -> Manifest:
    """Validate the manifest's JSON text against the contract (no Spark needed)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _refuse(uri, f"not valid JSON ({one_line(exc)})") from exc
    if not isinstance(data, dict):
        raise _refuse(uri, "must be a JSON object")
    version = data.get("version")
    if type(version) is not int or version != MANIFEST_VERSION:
        raise _refuse(uri, f"version must be {MANIFEST_VERSION}, got {version!r}")
    if data.get("runId") != run_id:
        raise _refuse(uri, f"runId {data.get('runId')!r} is not this run's --run-id {run_id!r}")
    try:
        dataset = check_dataset_name(data.get("dataset"))
    except ValueError as exc:
        raise _refuse(uri, str(exc)) from exc
    entries = data.get("files")
    if not isinstance(entries, list) or not entries:
        raise _refuse(uri, f"files must be a non-empty list, got {entries!r}"[:300])
    files: list[ManifestFile] = []
    first: dict[str, int] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in ("key", "etag")):
            raise _refuse(uri, f"files[{i}] must be an object with a string key and etag, got {entry!r}"[:300])
        key = entry["key"]
        if key in first:
            raise _refuse(uri, f"files[{i}]: key {key!r} is listed twice (also files[{first[key]}])")
        first[key] = i
        try:
            of = parse_key(key).dataset
        except InvalidKeyError:
            of = dataset  # not a usable key: that file fails on its own in the run
        if of != dataset:
            raise _refuse(uri, f"files[{i}]: key {key!r} is in dataset {of!r}, not the manifest's dataset {dataset!r}")
        files.append(ManifestFile(key=key, etag=entry["etag"]))
    return Manifest(run_id=run_id, dataset=dataset, files=tuple(files))
