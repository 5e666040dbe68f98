"""`run_job`: one raw file version -> cleaned + quarantine + curated + report.

Row counts in the report:
- read:        rows in the raw file;
- cleaned:     rows after cleaning (names, trim, null tokens, NaN, all-null and duplicate rows
               dropped), before the spec checks;  cleaned = passed + quarantined;
- quarantined: rows that failed at least one spec check (written to quarantine/);
- curated:     passed rows after deduplication within this file (by keys, or exact), i.e. what
               this file offered to the curated merge.
The cleaned/ folder holds the PASSED rows, typed; quarantine/ holds the failed ones.

`timingsMs` in the report: wall milliseconds per phase (read, plan, check, write, curate).

Session settings (`JOB_CONF`: no ANSI mode, UTC, dates and timestamps read and written as they
are, timestamps written as INT64 microseconds) are set for the run and restored afterwards, so a
long-lived session can run many jobs.
"""

from __future__ import annotations

import platform
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from watcher_job.cleaning import clean
from watcher_job.columns import ERRORS
from watcher_job.curation import add_partition_columns, deduplicate
from watcher_job.errors import (
    InvalidArgumentsError,
    JobError,
    PermanentJobError,
    RetryableJobError,
    UnreadableInputError,
)
from watcher_job.lake import (
    RawFile,
    check_output_keys_fit,
    escape_glob,
    join_uri,
    normalize_lake_root,
    parse_key,
)
from watcher_job.merge import CuratedFiles, merge_into_curated, probe_curated
from watcher_job.report import FAILED, SUCCEEDED, utc_now_iso, write_report
from watcher_job.sparkio import (
    NOT_FOUND_MARKERS,
    SPARK_ERRORS,
    TRANSIENT_MARKERS,
    UNREADABLE_MARKERS,
    has_marker,
    marked_line,
    one_line,
)
from watcher_job.spec import Spec, check_rows, failed_rows, parse_spec, passed_rows, validate_spec

JOB_CONF = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    # Dates and timestamps are proleptic Gregorian as written (pyarrow, Impala, Spark 3+): read and
    # write them as they are. Spark 3.5's default (EXCEPTION) fails a file holding 0001-01-01 or
    # INT96 timestamps before 1900 when no Spark wrote it.
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    # Write timestamps as INT64 microseconds, not Spark's default INT96 (deprecated in Parquet):
    # pyarrow and pandas read INT96 as nanoseconds and get years outside 1677-2262 wrong.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}

# A file up to this size is cached uncompressed (Spark's in-memory cache compresses by default):
# for a file of a few MB the compression costs more time than the memory it saves is worth.
SMALL_FILE_BYTES = 64 * 1024 * 1024
SMALL_FILE_CONF = {"spark.sql.inMemoryColumnarStorage.compressed": "false"}
# A file up to this size is cleaned and checked in one task (`coalesce(1)`): dropping duplicate
# rows then needs no shuffle, and cleaned/ and quarantine/ get one file each. Spark reads such a
# file in one task anyway (one split); only the stage after the shuffle loses its parallelism.
ONE_TASK_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class JobArgs:
    lake: str
    key: str
    etag: str
    run_id: str
    spec: str | None = None
    report: str | None = None


@dataclass(frozen=True)
class _Plan:
    lake: str
    raw: RawFile
    spec: Spec
    outputs: dict[str, str]
    report_uri: str


def _plan(args: JobArgs) -> _Plan:
    lake = normalize_lake_root(args.lake)
    run_id = args.run_id
    if not run_id or "/" in run_id or "\x00" in run_id or run_id in (".", ".."):
        raise InvalidArgumentsError(f"--run-id must be a non-empty name without '/', got {run_id!r}")
    if args.report is not None:
        normalize_lake_root(args.report)  # same scheme rules as the lake
    raw = parse_key(args.key)
    check_output_keys_fit(lake, raw)
    return _Plan(
        lake=lake,
        raw=raw,
        spec=parse_spec(args.spec),
        outputs={
            "cleaned": join_uri(lake, raw.cleaned),
            "quarantine": join_uri(lake, raw.quarantine),
            "curated": join_uri(lake, raw.curated),
        },
        report_uri=args.report or join_uri(lake, "metadata", "runs", f"{run_id}.json"),
    )


@contextmanager
def _session_conf(spark: SparkSession, settings: dict[str, str]) -> Iterator[None]:
    previous = {k: spark.conf.get(k, None) for k in settings}
    for k, v in settings.items():
        spark.conf.set(k, v)
    try:
        yield
    finally:
        for k, v in previous.items():
            if v is None:
                spark.conf.unset(k)
            else:
                spark.conf.set(k, v)


@dataclass(frozen=True)
class _RawFile:
    df: DataFrame
    rows: int
    size_bytes: int | None


def _unreadable(exc: Exception, uri: str) -> JobError | None:
    """What a failure of an action reading the raw file means, when its message says so."""
    if has_marker(exc, TRANSIENT_MARKERS):
        return RetryableJobError(f"reading {uri} failed: {marked_line(exc, TRANSIENT_MARKERS)}", type="ReadFailed")
    if has_marker(exc, NOT_FOUND_MARKERS):
        return UnreadableInputError(
            f"raw object not found: {marked_line(exc, NOT_FOUND_MARKERS)}", type="InputNotFound"
        )
    if has_marker(exc, UNREADABLE_MARKERS):
        return UnreadableInputError(f"not a readable Parquet file: {marked_line(exc, UNREADABLE_MARKERS)}")
    return None


@contextmanager
def _reading(uri: str, *, only_marked: bool) -> Iterator[None]:
    """Classify Spark failures of the block as failures to read the raw file at `uri`.

    `only_marked`: pass on errors whose message does not say what went wrong with the file
    (the block does more than read it); otherwise they become retryable ReadFailed.
    """
    try:
        yield
    except SPARK_ERRORS as exc:
        error = _unreadable(exc, uri)
        if error is None and only_marked:
            raise
        raise error or RetryableJobError(f"reading {uri} failed: {one_line(exc)}", type="ReadFailed") from exc


def _read_raw(spark: SparkSession, uri: str) -> _RawFile:
    """The raw file's schema (from its footer), row count and size (one small query).

    The count and `_metadata` come from the footer and the file listing, so the data pages are
    first decoded by the check (see `_check`), which classifies a corrupt page the same way.
    """
    with _reading(uri, only_marked=False):
        schema = spark.read.parquet(escape_glob(uri)).schema
        # Given the schema, the later analyses of the plan (a dozen per job) skip the footer read,
        # which Spark runs as a job of its own each time.
        df = spark.read.schema(schema).parquet(escape_glob(uri))
        row = df.agg(
            F.count(F.lit(1)).alias("rows"),
            F.max(F.col("_metadata.file_size")).alias("size"),
        ).collect()[0]
    return _RawFile(df=df, rows=int(row["rows"]), size_bytes=row["size"])


@contextmanager
def _phase(report: dict, name: str) -> Iterator[None]:
    """Adds the wall time of the block to `report["timingsMs"][name]` (where a run's time goes)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings = report.setdefault("timingsMs", {})
        timings[name] = timings.get(name, 0) + round((time.perf_counter() - start) * 1000)


def _execute(spark: SparkSession, plan: _Plan, args: JobArgs, report: dict) -> None:
    raw_uri = join_uri(plan.lake, plan.raw.key)
    spec = plan.spec
    cached: list[DataFrame] = []
    # A second thread does what the critical path (read, check, curate) need not wait for:
    # reading curated's footers meanwhile, then writing cleaned/ and quarantine/ during the merge
    # (both read the cached checked rows). A small file's stages are a task or two each, which
    # leaves a core idle. Every output is rewritten whole on a retry, so their order is free.
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="watcher-job") as pool:
            probed = pool.submit(probe_curated, spark, plan.outputs["curated"])
            with _phase(report, "read"):
                raw = _read_raw(spark, raw_uri)
            report["rows"]["read"] = raw.rows
            small = raw.size_bytes is not None and raw.size_bytes <= SMALL_FILE_BYTES
            one_task = raw.size_bytes is not None and raw.size_bytes <= ONE_TASK_FILE_BYTES

            with _phase(report, "plan"):  # analysis only: no data is touched
                modified = F.col("_metadata.file_modification_time")  # lineage `_ingested_at`
                rows = raw.df.coalesce(1) if one_task else raw.df
                cleaned = rows.transform(clean(plan.raw.key, args.etag, modified, spec.null_tokens))
                validate_spec(cleaned, spec)
            with _session_conf(spark, SMALL_FILE_CONF if small else {}):
                checked = _check(cleaned, plan, report, cached)
                written = pool.submit(_write_zones, checked, plan, report)
                with _phase(report, "curate"):
                    _curate(spark, checked, probed.result(), plan, report, cached)
                written.result()
    finally:
        for df in cached:
            df.unpersist()


def _check(cleaned: DataFrame, plan: _Plan, report: dict, cached: list[DataFrame]) -> DataFrame:
    """Type and check the rows and count them by outcome; returns the checked rows (cached)."""
    spec = plan.spec
    with _phase(report, "check"):
        checked = cleaned.transform(check_rows(spec)).persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(checked)
        # The first action that decodes the raw file's data pages.
        with _reading(join_uri(plan.lake, plan.raw.key), only_marked=True):
            counts = checked.groupBy((F.size(ERRORS) > 0).alias("failed")).count().collect()
    by_state = {bool(r["failed"]): int(r["count"]) for r in counts}
    report["rows"]["quarantined"] = by_state.get(True, 0)
    report["rows"]["cleaned"] = by_state.get(True, 0) + by_state.get(False, 0)
    return checked


def _write_zones(checked: DataFrame, plan: _Plan, report: dict) -> None:
    """Write the passed rows to cleaned/ and the failed ones to quarantine/."""
    with _phase(report, "write"):
        checked.transform(passed_rows).write.mode("overwrite").parquet(plan.outputs["cleaned"])
        checked.transform(failed_rows).write.mode("overwrite").parquet(plan.outputs["quarantine"])


def _curate(
    spark: SparkSession,
    checked: DataFrame,
    curated: CuratedFiles | None,
    plan: _Plan,
    report: dict,
    cached: list[DataFrame],
) -> None:
    spec = plan.spec
    contribution = (
        checked.transform(passed_rows)
        .transform(add_partition_columns(spec.partition_by))
        .transform(deduplicate(spec.keys, spec.order_by))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    cached.append(contribution)
    merge = merge_into_curated(
        spark,
        contribution,
        curated=curated,
        curated_uri=plan.outputs["curated"],
        staging_uri=join_uri(plan.lake, plan.raw.staging),
        key=plan.raw.key,
        spec=spec,
    )
    report["rows"]["curated"] = merge.offered
    if merge.cached is not None:
        cached.append(merge.cached)


def _base_report(args: JobArgs, started: str, spark: SparkSession) -> dict:
    try:
        version = spark.version
    except Exception:  # noqa: BLE001 - the report must not fail on this
        version = None
    return {
        "runId": args.run_id,
        "key": args.key,
        "etag": args.etag,
        "dataset": None,
        "status": None,
        "rows": {"read": None, "cleaned": None, "quarantined": None, "curated": None},
        "outputs": {"cleaned": None, "quarantine": None, "curated": None},
        "startedAt": started,
        "finishedAt": None,
        "sparkVersion": version,
        "pythonVersion": platform.python_version(),
    }


def run_job(spark: SparkSession, args: JobArgs) -> dict:
    """Process one file version and write its report; return the report.

    Raises PermanentJobError or RetryableJobError (with `.report` set to the failed report) on
    failure; any unexpected exception is wrapped in RetryableJobError (its `__cause__`).
    Never stops the session.
    """
    report = _base_report(args, utc_now_iso(), spark)
    plan: _Plan | None = None
    try:
        plan = _plan(args)
        report["dataset"] = plan.raw.dataset
        report["outputs"] = dict(plan.outputs)
        with _session_conf(spark, JOB_CONF):
            _execute(spark, plan, args, report)
        report["status"] = SUCCEEDED
        report["finishedAt"] = utc_now_iso()
        try:
            write_report(spark, plan.report_uri, report)
        except Exception as exc:
            raise RetryableJobError(f"writing the report failed: {one_line(exc)}", type="ReportWriteFailed") from exc
        return report
    except JobError as exc:
        error = exc
    except SPARK_ERRORS as exc:
        error = RetryableJobError(one_line(exc), type=type(exc).__name__)
        error.__cause__ = exc
    except Exception as exc:  # noqa: BLE001 - unexpected: keep the traceback for main
        error = RetryableJobError(f"unexpected {type(exc).__name__}: {one_line(exc)}", type="Unexpected")
        error.__cause__ = exc
        error.traceback = traceback.format_exc()
    report["status"] = FAILED
    report["finishedAt"] = utc_now_iso()
    report["error"] = {"kind": error.kind, "type": error.type, "message": error.message}
    error.report = report
    report_uri = plan.report_uri if plan is not None else _fallback_report_uri(args)
    if report_uri is not None and report.get("error", {}).get("type") != "ReportWriteFailed":
        try:
            write_report(spark, report_uri, report)
        except Exception as exc:  # noqa: BLE001 - the job error is what matters
            error.report_error = one_line(exc)
    raise error


def _fallback_report_uri(args: JobArgs) -> str | None:
    """Where to put a failed report when the arguments did not all validate."""
    try:
        if args.report is not None:
            return normalize_lake_root(args.report)
        lake = normalize_lake_root(args.lake)
    except PermanentJobError:
        return None
    run_id = args.run_id
    if not run_id or "/" in run_id or "\x00" in run_id or run_id in (".", ".."):
        return None
    return join_uri(lake, "metadata", "runs", f"{run_id}.json")
