"""Entry point: convert a dataset's Parquet curated table into a Delta Lake table in place.

    spark-submit curated_convert.py --lake <root URI> --dataset <name> --run-id <id>

Exit 0 with a last stdout line `curated_convert: {...}` (watcher_job/convert.py: Conversion);
2 when there is nothing to convert or the table cannot be (`pipeline: permanent: <reason>`),
1 for anything else (`pipeline: retryable: <reason>`). Run it with the Delta Lake jars and
session settings (`s3-spark-watcher curated convert` does, holding the dataset's claim).
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from watcher_job.convert import conversion_line, convert_curated
from watcher_job.errors import InvalidArgumentsError, JobError, PermanentJobError
from watcher_job.lake import check_run_id, normalize_lake_root
from watcher_job.session import job_session


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # type: ignore[override]
        raise InvalidArgumentsError(message)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = _Parser(prog="curated_convert.py", description=__doc__.splitlines()[0])
        parser.add_argument("--lake", required=True)
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--run-id", required=True)
        ns = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        lake, run_id = normalize_lake_root(ns.lake), check_run_id(ns.run_id)
    except JobError as error:
        print(f"pipeline: {error.kind}: {error.message}", file=sys.stderr, flush=True)
        return 2

    logging.getLogger("DataFrameQueryContextLogger").setLevel(logging.CRITICAL)
    with job_session("s3-spark-watcher curated convert") as spark:
        try:
            print(conversion_line(convert_curated(spark, lake, ns.dataset, run_id)), flush=True)
            return 0
        except JobError as error:
            print(f"pipeline: {error.kind}: {' '.join(error.message.split())}", file=sys.stderr, flush=True)
            return 2 if isinstance(error, PermanentJobError) else 1
        except Exception as error:  # noqa: BLE001 - any other failure is one retryable line, after its traceback
            traceback.print_exc()
            print(f"pipeline: retryable: {' '.join(str(error).split())[:400]}", file=sys.stderr, flush=True)
            return 1


if __name__ == "__main__":
    sys.exit(main())
