"""`run_job`: one raw file version -> cleaned + quarantine + curated + report (the single form);
a `BatchArgs` runs the batch form instead (`batch.py`: many versions of one dataset, one merge).

Row counts in the report:
- read:        rows in the raw file;
- cleaned:     rows after cleaning (names, trim, null tokens, NaN, all-null and duplicate rows
               dropped), before the spec checks;  cleaned = passed + quarantined;
- quarantined: rows that failed at least one spec check (written to quarantine/);
- curated:     passed rows after deduplication within this file (by keys, or exact), i.e. what
               this file offered to the curated merge.
The cleaned/ folder holds the PASSED rows, typed; quarantine/ holds the failed ones.

`timingsMs` in the report: wall milliseconds per phase (read, plan, check, write, curate).

Session settings (`session.JOB_CONF`) are set for the run and restored afterwards, so a
long-lived session can run many jobs.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from watcher_job.batch import BatchArgs, run_batch
from watcher_job.delta_table import commit_tag
from watcher_job.errors import PermanentJobError
from watcher_job.failure import as_job_error, record_failure, write_final_report
from watcher_job.lake import (
    RawFile,
    check_output_keys_fit,
    check_run_id,
    default_report_uri,
    join_uri,
    normalize_lake_root,
    parse_key,
)
from watcher_job.merge import CuratedFiles, merge_into_curated, probe_settled
from watcher_job.rawfile import read_raw, reading
from watcher_job.report import SUCCEEDED, phase, utc_now_iso, versions
from watcher_job.session import JOB_CONF, cache_conf, is_one_task, session_conf
from watcher_job.spec import Spec, parse_spec, validate_spec
from watcher_job.stages import (
    checked_rows,
    cleaned_rows,
    contribution,
    failed_flag,
    outcome_counts,
    write_zones,
)


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
    run_id: str
    etag: str


def _plan(args: JobArgs) -> _Plan:
    lake = normalize_lake_root(args.lake)
    run_id = check_run_id(args.run_id)
    if args.report is not None:
        normalize_lake_root(args.report, "--report")  # same scheme rules as the lake
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
        report_uri=args.report or default_report_uri(lake, run_id),
        run_id=run_id,
        etag=args.etag,
    )


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
            probed = pool.submit(
                probe_settled, spark, plan.outputs["curated"], join_uri(plan.lake, plan.raw.staging), spec.table_format
            )
            with phase(report, "read"):
                raw = read_raw(spark, raw_uri)
            report["rows"]["read"] = raw.rows

            with phase(report, "plan"):  # analysis only: no data is touched
                cleaned = cleaned_rows(raw.df, plan.raw.key, args.etag, spec, one_task=is_one_task(raw.size_bytes))
                validate_spec(cleaned, spec)
            with session_conf(spark, cache_conf(spark, raw.size_bytes)):
                checked = _check(cleaned, plan, report, cached)
                written = pool.submit(_write_zones, checked, plan, report)
                with phase(report, "curate"):
                    _curate(spark, checked, probed.result(), plan, report, cached)
                written.result()
    finally:
        for df in cached:
            df.unpersist()


def _check(cleaned: DataFrame, plan: _Plan, report: dict, cached: list[DataFrame]) -> DataFrame:
    """Type and check the rows and count them by outcome; returns the checked rows (cached)."""
    with phase(report, "check"):
        checked = checked_rows(cleaned, plan.spec)
        cached.append(checked)
        # The first action that decodes the raw file's data pages.
        with reading(join_uri(plan.lake, plan.raw.key), only_marked=True):
            counts = checked.groupBy(failed_flag(checked)).count().collect()
    report["rows"]["cleaned"], report["rows"]["quarantined"] = outcome_counts(counts)
    return checked


def _write_zones(checked: DataFrame, plan: _Plan, report: dict) -> None:
    with phase(report, "write"):
        write_zones(checked, plan.outputs["cleaned"], plan.outputs["quarantine"])


def _curate(
    spark: SparkSession,
    checked: DataFrame,
    curated: CuratedFiles | None,
    plan: _Plan,
    report: dict,
    cached: list[DataFrame],
) -> None:
    offered = contribution(checked, plan.spec).persist(StorageLevel.MEMORY_AND_DISK)
    cached.append(offered)
    merge = merge_into_curated(
        spark,
        offered,
        curated=curated,
        curated_uri=plan.outputs["curated"],
        staging_uri=join_uri(plan.lake, plan.raw.staging),
        keys=[plan.raw.key],
        spec=plan.spec,
        tag=commit_tag(plan.run_id, [(plan.raw.key, plan.etag)]),
    )
    report["rows"]["curated"] = merge.offered.get(plan.raw.key, 0)


def _base_report(args: JobArgs, started: str, spark: SparkSession) -> dict:
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
        **versions(spark),
    }


def run_job(spark: SparkSession, args: JobArgs | BatchArgs) -> dict:
    """Process one file version (a `BatchArgs`: a manifest of them) and write its report; return the report.

    Raises PermanentJobError or RetryableJobError (with `.report` set to the failed report) on
    failure; any unexpected exception is wrapped in RetryableJobError (its `__cause__`).
    Never stops the session.
    """
    if isinstance(args, BatchArgs):
        return run_batch(spark, args)
    report = _base_report(args, utc_now_iso(), spark)
    plan: _Plan | None = None
    try:
        plan = _plan(args)
        report["dataset"] = plan.raw.dataset
        report["outputs"] = dict(plan.outputs)
        with session_conf(spark, JOB_CONF):
            _execute(spark, plan, args, report)
        report["status"] = SUCCEEDED
        report["finishedAt"] = utc_now_iso()
        write_final_report(spark, plan.report_uri, report)
        return report
    except Exception as exc:  # noqa: BLE001 - every failure becomes a typed JobError with a report
        error = as_job_error(exc)
    report_uri = plan.report_uri if plan is not None else _fallback_report_uri(args)
    raise record_failure(spark, report, error, report_uri)


def _fallback_report_uri(args: JobArgs) -> str | None:
    """Where to put a failed report when the arguments did not all validate."""
    try:
        if args.report is not None:
            return normalize_lake_root(args.report, "--report")
        return default_report_uri(normalize_lake_root(args.lake), check_run_id(args.run_id))
    except PermanentJobError:
        return None
