"""Entry point: raw Parquet file versions -> cleaned, quarantine, curated, report.

    spark-submit pipeline.py --lake <s3a://bucket[/prefix] | s3://bucket[/prefix] | file:///abs>
        --key raw/<dataset>/.../<name>.parquet --etag <etag> --run-id <id>
        [--spec <JSON>] [--report <URI>]
    spark-submit pipeline.py --lake <root> --manifest <URI> --run-id <id> [--spec <JSON>] [--report <URI>]

The first form processes one file version: exit 0 success, 2 permanent failure (never retry),
1 anything else (may pass on retry). The second (batch) form processes the file versions of one
dataset that the manifest lists (watcher_job/batch.py): exit 0 once the run got to the end and
wrote its report, even if files failed (each file's outcome is in the report's `files`), 2 when
the arguments or the manifest are unusable, 1 for a retryable failure of the whole run.
The last stderr line of a failure is `pipeline: permanent: <reason>` or
`pipeline: retryable: <reason>`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from watcher_job.batch import BatchArgs
from watcher_job.errors import InvalidArgumentsError, JobError, PermanentJobError
from watcher_job.job import JobArgs, run_job

EXIT_OK = 0
EXIT_RETRYABLE = 1
EXIT_PERMANENT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise InvalidArgumentsError(message)


def parse_args(argv: Sequence[str] | None = None) -> JobArgs | BatchArgs:
    """`--key` and `--etag` (one file), or `--manifest` (a batch): exactly one form."""
    parser = _Parser(prog="pipeline.py", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True, help="lake root URI")
    parser.add_argument("--key", default=None, help="raw object key, raw/<dataset>/.../<name>.parquet")
    parser.add_argument("--etag", default=None, help="ETag of the object version")
    parser.add_argument("--manifest", default=None, help="batch manifest URI (instead of --key and --etag)")
    parser.add_argument("--run-id", required=True, help="run id; names the default report")
    parser.add_argument("--spec", default=None, help="dataset spec as JSON")
    parser.add_argument("--report", default=None, help="report URI (default <lake>/metadata/runs/<run-id>.json)")
    ns = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if ns.manifest is not None:
        if ns.key is not None or ns.etag is not None:
            raise InvalidArgumentsError("--manifest and --key/--etag are mutually exclusive: give one form")
        return BatchArgs(lake=ns.lake, manifest=ns.manifest, run_id=ns.run_id, spec=ns.spec, report=ns.report)
    missing = [name for name, value in (("--key", ns.key), ("--etag", ns.etag)) if value is None]
    if missing:
        raise InvalidArgumentsError(
            f"the following arguments are required: {', '.join(missing)} (or --manifest for a batch)"
        )
    return JobArgs(lake=ns.lake, key=ns.key, etag=ns.etag, run_id=ns.run_id, spec=ns.spec, report=ns.report)


def _fail(error: JobError) -> int:
    if error.traceback:
        print(error.traceback, file=sys.stderr, end="")
    if error.report_error:
        print(f"pipeline: could not write the failure report: {error.report_error}", file=sys.stderr)
    message = " ".join(error.message.split())
    print(f"pipeline: {error.kind}: {message}", file=sys.stderr, flush=True)
    return EXIT_PERMANENT if isinstance(error, PermanentJobError) else EXIT_RETRYABLE


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except JobError as error:
        return _fail(error)

    from watcher_job.session import job_session

    # Spark 4 logs every analysis error (with the JVM stack) through this Python logger; the
    # spec validation provokes some on purpose, and the one-line reason below is what counts.
    logging.getLogger("DataFrameQueryContextLogger").setLevel(logging.CRITICAL)

    # Reuse a session someone else owns (a worker, a test, Spark Connect) and leave it running;
    # stop only the session this call created.
    with job_session("s3-spark-watcher") as spark:
        try:
            run_job(spark, args)
            return EXIT_OK
        except JobError as error:
            return _fail(error)


if __name__ == "__main__":
    sys.exit(main())
