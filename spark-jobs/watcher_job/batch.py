"""`run_batch`: the batch form, many raw file versions of ONE dataset in one run.

    pipeline.py --lake <root> --manifest <URI> --run-id <id> [--spec <JSON>] [--report <URI>]

Each file of the manifest gets its own cleaned/ and quarantine/ exactly as in the single form, and
all the files that pass go into curated with ONE merge. A per-file permanent problem (invalid key,
object gone, not Parquet / truncated / corrupt, spec column missing or spec not applicable to the
file, curated type conflict with the table or with an earlier file of the batch) fails that file
alone, with the error the single form would give; the others go on. A changed partitioning of
curated fails every file. Anything else (storage, cluster, bug) fails the whole run, retryable.

What is shared, so a backlog does not pay a Spark job's start-up per file:
- curated's footers are probed once, and curated is merged once (`merge_into_curated` with the
  source keys of every file that passed);
- the row counts and sizes of all files come from one query over all of them (the footers'
  counts and the listing);
- small files (up to 16 MB) of one footer schema form a group, read, cleaned, checked and cached
  as ONE DataFrame (`together.py`), so its plan is built once (a plan costs driver round trips
  per column expression, hundreds per file) and its rows per outcome come from one query; the
  spec is validated once per schema. A larger file is a group of its own, as the single form;
- what stays per file, a footer read and the two zone writes (from the group's cache, through a
  filter on the source key), runs a few at a time in a thread pool: small jobs spend most of
  their time in scheduling, commits and driver round trips, which then overlap (concurrent jobs
  in one session are fine, also over Spark Connect).
A failure of a shared query is followed by the same work file by file, so that the bad file is
named and fails alone.

A file that fails writes nothing (its checks all run before any write). Exit codes: 0 when the
run got to the end and wrote its report, whatever each file's outcome; 2 for unusable arguments
or manifest (no per-file outcome); 1 for a retryable failure of the whole run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructField, StructType

from watcher_job.cleaning import clean_values
from watcher_job.columns import SOURCE_KEY, col, union_all
from watcher_job.curation import check_compatible
from watcher_job.delta_table import commit_tag
from watcher_job.errors import CuratedConflictError, JobError, PermanentJobError, RetryableJobError
from watcher_job.failure import as_job_error, error_entry, record_failure, write_final_report
from watcher_job.lake import (
    check_output_keys_fit,
    check_run_id,
    default_report_uri,
    join_uri,
    normalize_lake_root,
    parse_key,
    staging_key,
)
from watcher_job.manifest import Manifest, read_manifest
from watcher_job.merge import CuratedFiles, check_partitioning, merge_into_curated, probe_settled
from watcher_job.rawfile import count_raw, read_schema, read_with_schema, reading
from watcher_job.report import FAILED, SUCCEEDED, phase, utc_now_iso, versions
from watcher_job.session import JOB_CONF, cache_conf, is_one_task, session_conf
from watcher_job.sparkio import SPARK_ERRORS, TRANSIENT_MARKERS, has_marker, marked_line
from watcher_job.spec import Spec, check_rows, failed_rows, parse_spec, passed_rows, validate_spec
from watcher_job.stages import cleaned_rows, contribution, failed_flag, outcome_counts, write_zone
from watcher_job.together import FileStats, Source, inventory, named_rows_with_lineage

# Spark jobs and plans in flight at once. The per-file jobs are a task or two each; a few at once
# keep the cores busy while others wait on scheduling, commits and driver round trips.
THREADS = 4
# Raw bytes of small files of one schema read, checked and cached together (memory, and what a
# failure of their shared query costs: each of them is then checked alone).
GROUP_BYTES = 256 * 1024 * 1024
_ROW_COUNTS = ("read", "cleaned", "quarantined", "curated")
_SPLIT = object()  # a group to plan again as files alone
_CACHE = StorageLevel.MEMORY_AND_DISK  # as the single form caches a file's checked rows


@dataclass(frozen=True)
class BatchArgs:
    lake: str
    manifest: str
    run_id: str
    spec: str | None = None
    report: str | None = None


class _File:
    """One manifest entry through the run; `entry` is its object in the report's `files`."""

    def __init__(self, index: int, key: str, etag: str, lake: str) -> None:
        self.index = index
        self.key = key
        self.etag = etag
        self.uri = join_uri(lake, key)
        self.schema: StructType | None = None
        self.stats: FileStats | None = None
        self.size: int | None = None
        self.group: _Group | None = None
        self.entry: dict = {
            "key": key,
            "etag": etag,
            "status": None,
            "rows": dict.fromkeys(_ROW_COUNTS),
            "outputs": {"cleaned": None, "quarantine": None, "curated": None},
        }

    @property
    def live(self) -> bool:
        """Not failed so far."""
        return self.entry["status"] is None

    def fail(self, error: JobError) -> None:
        self.entry["status"] = FAILED
        self.entry["error"] = error_entry(error)


class _Group:
    """Files checked as one DataFrame: small files of one schema read together (`together.py`),
    or one file alone (a large one, one the inventory did not report, or one of a group whose
    shared query failed), processed as the single form does."""

    def __init__(self, files: list[_File]) -> None:
        self.files = files
        for f in files:
            f.group = self
        self.checked: DataFrame | None = None
        self.passed: DataFrame | None = None
        self.failed: DataFrame | None = None
        self.offered: DataFrame | None = None
        self.offered_schema: StructType | None = None

    @property
    def together(self) -> bool:
        return len(self.files) > 1

    def zone(self, rows: DataFrame | None, f: _File) -> DataFrame:
        """`rows` (passed or failed) of file `f`: one output file, as the single form writes for a
        small file (the cache is sorted by source key, so the filter reads only its batches)."""
        assert rows is not None
        return rows.filter(col(SOURCE_KEY) == f.key).coalesce(1) if self.together else rows


class _Batch:
    def __init__(
        self, spark: SparkSession, lake: str, spec: Spec, manifest: Manifest, report: dict, run_id: str
    ) -> None:
        self.spark = spark
        self.run_id = run_id
        self.lake = lake
        self.spec = spec
        self.report = report
        self.curated_uri = join_uri(lake, "curated", manifest.dataset)
        self.staging_uri = join_uri(lake, staging_key(manifest.dataset))
        self.files = [_File(i, f.key, f.etag, lake) for i, f in enumerate(manifest.files)]
        report["files"] = [f.entry for f in self.files]
        self.cached: list[DataFrame] = []
        self._lock = threading.Lock()
        self._spec_errors: dict[str, PermanentJobError | None] = {}

    def live(self) -> list[_File]:
        return [f for f in self.files if f.live]

    def run(self) -> None:
        try:
            with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="watcher-batch") as pool:
                self._run(pool)
        finally:
            for df in self.cached:
                df.unpersist()

    def _run(self, pool: ThreadPoolExecutor) -> None:
        probed = pool.submit(probe_settled, self.spark, self.curated_uri, self.staging_uri, self.spec.table_format)
        self._check_keys()
        with phase(self.report, "read"):
            # The inventory reads no column, so it needs no schema: it runs alongside the footer
            # reads, and once more after them if a file they refused made it fail.
            listed = pool.submit(inventory, self.spark, [f.uri for f in self.live()])
            before = len(self.live())
            self._each(pool, self._read_schema)
            found = listed.result()
            if not found and before > len(self.live()):
                found = inventory(self.spark, [f.uri for f in self.live()])
            self._count_raw(pool, found)
        try:
            curated = probed.result()
            check_partitioning(self.curated_uri, curated, self.spec.partition_names)
        except CuratedConflictError as error:
            for f in self.live():
                f.fail(error)
            return
        raw_bytes = sum(f.size or 0 for f in self.live())  # None: no rows
        with session_conf(self.spark, cache_conf(self.spark, raw_bytes)):  # all groups cached at once
            with phase(self.report, "plan"):  # analysis only: no data is touched
                groups = self._plan_groups(pool, self._groups())
            with phase(self.report, "check"):
                self._count_outcomes(pool, groups)
            self._check_types(curated)
            passed = self.live()
            started = time.perf_counter()
            writes = [pool.submit(self._write, f, zone) for f in passed for zone in ("cleaned", "quarantine")]
            with phase(self.report, "curate"):
                self._merge(curated, passed)
            ended = _wait_all(writes)  # the writes run alongside the merge: their own span
            self.report["timingsMs"]["write"] = round((max(ended, default=started) - started) * 1000)
        for f in passed:
            if f.live:
                f.entry["status"] = SUCCEEDED

    # -- steps, each over the files still live -------------------------------------------------

    def _check_keys(self) -> None:
        for f in self.files:
            try:
                raw = parse_key(f.key)
                check_output_keys_fit(self.lake, raw)
            except PermanentJobError as error:
                f.fail(error)
                continue
            f.entry["outputs"] = {
                "cleaned": join_uri(self.lake, raw.cleaned),
                "quarantine": join_uri(self.lake, raw.quarantine),
                "curated": self.curated_uri,
            }

    def _read_schema(self, f: _File) -> None:
        f.schema = read_schema(self.spark, f.uri)

    def _count_raw(self, pool: ThreadPoolExecutor, found: dict[str, FileStats]) -> None:
        """Rows and size of every file, from the inventory (one query over all of them); a file it
        does not report (no rows, or the query failed): a query of its own, which names a bad file."""
        for f in self.live():
            f.stats = found.get(f.uri)
            if f.stats is not None:
                f.entry["rows"]["read"], f.size = f.stats.rows, f.stats.size
        self._each(pool, self._count_one, only=[f for f in self.live() if f.stats is None])

    def _count_one(self, f: _File) -> None:
        assert f.schema is not None
        f.entry["rows"]["read"], f.size = count_raw(read_with_schema(self.spark, f.uri, f.schema), f.uri)

    def _groups(self) -> list[_Group]:
        """Small files the inventory reported, by schema, in groups of at most GROUP_BYTES; every
        other file alone."""
        by_schema: dict[str, list[_File]] = {}
        alone: list[_Group] = []
        for f in self.live():
            if f.stats is not None and is_one_task(f.size):
                assert f.schema is not None
                by_schema.setdefault(f.schema.json(), []).append(f)
            else:
                alone.append(_Group([f]))
        groups: list[_Group] = []
        for files in by_schema.values():
            chunk: list[_File] = []
            for f in files:
                if chunk and sum(g.size or 0 for g in chunk) + (f.size or 0) > GROUP_BYTES:
                    groups.append(_Group(chunk))
                    chunk = []
                chunk.append(f)
            groups.append(_Group(chunk))
        return groups + alone

    def _plan_groups(self, pool: ThreadPoolExecutor, groups: list[_Group]) -> list[_Group]:
        """Plan every group in the pool. A permanent error (the spec does not fit the files' schema,
        a file alone gone) fails the group's files; a group of files together that cannot be read
        as one (a file gone meanwhile) is planned again as files alone."""
        outcomes = _wait_all([pool.submit(self._plan_or_error, g) for g in groups])
        planned, alone = [], []
        for group, outcome in zip(groups, outcomes):
            if isinstance(outcome, PermanentJobError):
                for f in group.files:
                    f.fail(outcome)
            elif outcome is _SPLIT:
                alone += [_Group([f]) for f in group.files]
            else:
                planned.append(group)
        return planned + (self._plan_groups(pool, alone) if alone else [])

    def _plan_or_error(self, group: _Group) -> object:
        try:
            return self._plan(group)
        except PermanentJobError as error:
            return error
        except SPARK_ERRORS as exc:
            if not group.together or has_marker(exc, TRANSIENT_MARKERS):
                raise
            return _SPLIT

    def _plan(self, group: _Group) -> PermanentJobError | None:
        """The group's checked rows (cached), passed and failed rows, and contribution to curated:
        plans only. The spec is checked once per distinct file schema (the cleaned schema depends
        on nothing else)."""
        first = group.files[0]
        assert first.schema is not None
        if group.together:
            sources = [Source(f.uri, f.stats.path, f.key, f.etag) for f in group.files if f.stats is not None]
            assert len(sources) == len(group.files)  # `_groups` puts only files with stats together
            named = named_rows_with_lineage(self.spark, first.schema, sources)
            # All rows of a file in one partition: dropping duplicate rows, and keeping one row per
            # key within each file, need no other shuffle; and each file's zones are one file.
            cleaned = named.repartition(col(SOURCE_KEY)).transform(clean_values(self.spec.null_tokens))
        else:
            raw = read_with_schema(self.spark, first.uri, first.schema)
            cleaned = cleaned_rows(raw, first.key, first.etag, self.spec, one_task=is_one_task(first.size))
        error = self._check_spec(first.schema, cleaned)
        if error is not None:
            return error
        checked = cleaned.transform(check_rows(self.spec))
        if group.together:
            checked = checked.sortWithinPartitions(col(SOURCE_KEY))
        # Deserialized: each write of a file's zone reads the group's cache through a filter on its
        # source key, which skips the other files' batches; a serialized block would be
        # deserialized whole for every such write.
        group.checked = checked.persist(StorageLevel.MEMORY_AND_DISK_DESER if group.together else _CACHE)
        with self._lock:
            self.cached.append(group.checked)
        group.passed = group.checked.transform(passed_rows)
        group.failed = group.checked.transform(failed_rows)
        group.offered = contribution(group.checked, self.spec, per_source=group.together)
        group.offered_schema = group.offered.schema
        return None

    def _check_spec(self, schema: StructType, cleaned: DataFrame) -> PermanentJobError | None:
        key = schema.json()
        with self._lock:
            if key in self._spec_errors:
                return self._spec_errors[key]
        try:
            validate_spec(cleaned, self.spec)
            error = None
        except PermanentJobError as exc:
            error = exc
        with self._lock:
            self._spec_errors[key] = error
        return error

    def _count_outcomes(self, pool: ThreadPoolExecutor, groups: list[_Group]) -> None:
        """Rows per outcome of every file, one query per group (it decodes the data pages and fills
        the group's cache). A group whose query fails is split into files alone, counted again:
        the bad file fails on its own."""
        results = _wait_all([pool.submit(self._count_group, g) for g in groups])
        retry = [_Group([f]) for g, ok in zip(groups, results) if not ok for f in g.files]
        if retry:
            retry = self._plan_groups(pool, retry)
            _wait_all([pool.submit(self._count_group, g) for g in retry])

    def _count_group(self, group: _Group) -> bool:
        """False when a shared query failed (not for storage trouble: that fails the run)."""
        assert group.checked is not None
        query = group.checked.groupBy(col(SOURCE_KEY), failed_flag(group.checked)).count()
        if not group.together:
            f = group.files[0]
            try:
                with reading(f.uri, only_marked=True):
                    rows = query.collect()
            except PermanentJobError as error:
                f.fail(error)
                return True
        else:
            try:
                rows = query.collect()
            except SPARK_ERRORS as exc:
                if has_marker(exc, TRANSIENT_MARKERS):
                    reason = marked_line(exc, TRANSIENT_MARKERS)
                    raise RetryableJobError(f"checking the batch's files failed: {reason}", type="ReadFailed") from exc
                return False
        by_key: dict[str, list] = {}
        for r in rows:
            by_key.setdefault(r[SOURCE_KEY], []).append(r)
        for f in group.files:
            f.entry["rows"]["cleaned"], f.entry["rows"]["quarantined"] = outcome_counts(by_key.get(f.key, []))
        return True

    def _check_types(self, curated: CuratedFiles | None) -> None:
        """In manifest order: each file's curated columns against the table's and those of the
        earlier files that passed (all of them meet in one union and one table)."""
        parts = list(self.spec.partition_names)
        table = None
        if curated is not None:
            table = StructType([f for f in curated.merged_schema.fields if f.name not in parts])
        seen: dict[str, tuple[StructField, str]] = {}
        for f in self.live():
            assert f.group is not None and f.group.offered_schema is not None
            offered = f.group.offered_schema
            earlier = StructType([field for field, _ in seen.values()])
            try:
                if table is not None:
                    check_compatible(table, offered, ignore=parts)
                check_compatible(earlier, offered, where=lambda name: _earlier_file(seen, name))
            except CuratedConflictError as error:
                f.fail(error)
                continue
            # The type a column gets in the table: curated's, else the first file's that has it.
            in_table = {field.name.lower(): field for field in (table.fields if table is not None else [])}
            for field in offered.fields:
                seen.setdefault(field.name.lower(), (in_table.get(field.name.lower(), field), f.key))

    def _write(self, f: _File, zone: str) -> float:
        """Write one zone of one file; returns when it ended (`time.perf_counter`)."""
        assert f.group is not None
        rows = f.group.passed if zone == "cleaned" else f.group.failed
        write_zone(f.group.zone(rows, f), f.entry["outputs"][zone])
        return time.perf_counter()

    def _merge(self, curated: CuratedFiles | None, passed: list[_File]) -> None:
        if not passed:
            return
        offers = []
        for group in dict.fromkeys(f.group for f in passed):
            assert group is not None and group.offered is not None
            keys = [f.key for f in group.files if f.live]
            whole = len(keys) == len(group.files)
            offers.append(group.offered if whole else group.offered.filter(col(SOURCE_KEY).isin(keys)))
        new_rows = union_all(offers).persist(StorageLevel.MEMORY_AND_DISK)
        self.cached.append(new_rows)
        try:
            merge = merge_into_curated(
                self.spark,
                new_rows,
                curated=curated,
                curated_uri=self.curated_uri,
                staging_uri=self.staging_uri,
                keys=[f.key for f in passed],
                spec=self.spec,
                tag=commit_tag(self.run_id, [(f.key, f.etag) for f in passed]),
            )
        except PermanentJobError as error:  # checked before; a table changed meanwhile
            for f in passed:
                f.fail(error)
            return
        for f in passed:
            f.entry["rows"]["curated"] = merge.offered.get(f.key, 0)

    def _each(self, pool: ThreadPoolExecutor, step: Callable[[_File], None], only: list[_File] | None = None) -> None:
        """Run `step` for each live file (or `only` these) in the pool. A permanent error fails
        that file; any other error fails the run (once the steps started have ended)."""
        files = self.live() if only is None else only
        futures = [pool.submit(step, f) for f in files]
        first: BaseException | None = None
        for f, future in zip(files, futures):
            try:
                future.result()
            except PermanentJobError as error:
                f.fail(error)
            except BaseException as exc:  # noqa: BLE001 - raised below, after the others ended
                first = first or exc
                for later in futures:
                    later.cancel()
        if first is not None:
            raise first


def _earlier_file(seen: dict[str, tuple[StructField, str]], name: str) -> str:
    return f"{seen[name.lower()][1]!r}, an earlier file of this batch,"


def _wait_all(futures: Sequence[Future]) -> list:
    """Results in order; the first error is raised once every future has ended."""
    results, first = [], None
    for future in futures:
        try:
            results.append(future.result())
        except BaseException as exc:  # noqa: BLE001 - raised below, after the others ended
            first = first or exc
            results.append(None)
    if first is not None:
        raise first
    return results


def _base_report(args: BatchArgs, started: str, spark: SparkSession) -> dict:
    return {
        "runId": args.run_id,
        "dataset": None,
        "manifest": args.manifest,
        "status": None,
        "files": [],
        "rows": dict.fromkeys(_ROW_COUNTS),
        "outputs": {"curated": None},
        "startedAt": started,
        "finishedAt": None,
        **versions(spark),
        "timingsMs": {},
    }


def _totals(files: list[dict]) -> dict:
    done = [f for f in files if f["status"] == SUCCEEDED]
    return {name: sum(f["rows"][name] or 0 for f in done) for name in _ROW_COUNTS}


def _report_uri(args: BatchArgs) -> str | None:
    """Where the report goes, or None when the arguments do not say (bad lake, run id or report)."""
    try:
        if args.report is not None:
            return normalize_lake_root(args.report, "--report")
        return default_report_uri(normalize_lake_root(args.lake), check_run_id(args.run_id))
    except PermanentJobError:
        return None


def run_batch(spark: SparkSession, args: BatchArgs) -> dict:
    """Process the manifest's file versions and write the batch report; return the report.

    Returns normally (exit 0) once the report is written, whatever each file's outcome (see
    `files`). Raises PermanentJobError (an `InvalidArgumentsError`: arguments or manifest) or
    RetryableJobError with `.report` set; never stops the session.
    """
    report = _base_report(args, utc_now_iso(), spark)
    try:
        lake = normalize_lake_root(args.lake)
        run_id = check_run_id(args.run_id)
        report_uri = default_report_uri(lake, run_id)
        if args.report is not None:
            report_uri = normalize_lake_root(args.report, "--report")
        manifest_uri = normalize_lake_root(args.manifest, "--manifest")
        spec = parse_spec(args.spec)
        with session_conf(spark, JOB_CONF):
            with phase(report, "manifest"):
                manifest = read_manifest(spark, manifest_uri, run_id)
            report["dataset"] = manifest.dataset
            report["outputs"]["curated"] = join_uri(lake, "curated", manifest.dataset)
            _Batch(spark, lake, spec, manifest, report, run_id).run()
        report["status"] = SUCCEEDED
        report["rows"] = _totals(report["files"])
        report["finishedAt"] = utc_now_iso()
        write_final_report(spark, report_uri, report)
        return report
    except Exception as exc:  # noqa: BLE001 - every failure becomes a typed JobError with a report
        error = as_job_error(exc)
    for entry in report["files"]:
        if entry["status"] is None:  # the run's error stands for it
            entry["status"] = FAILED
    if report["files"]:  # else no file was reached (arguments or manifest): rows stay null
        report["rows"] = _totals(report["files"])
    raise record_failure(spark, report, error, _report_uri(args))
