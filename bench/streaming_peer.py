"""The peer a Spark user would write by hand for a backlog (bench/backlog.ts): Structured Streaming.

    spark-submit bench/streaming_peer.py --lake file:///abs/lake --spec '<JSON>' [--max-files-per-trigger 100]

`readStream.parquet(raw/<dataset>/)` with `maxFilesPerTrigger` and `trigger(availableNow=True)`
(process what is there, in micro-batches, then stop), and a `foreachBatch` that runs the same
transforms as the job (watcher_job: cleaning, the spec's typing and checks, partition columns,
dedup) and the same curated merge (`merge_into_curated`, replacing the rows of the micro-batch's
source files). As a user would write it: cleaned and quarantine rows are appended to one table
each (`cleaned/<dataset>/`, `quarantine/<dataset>/`) rather than one folder per raw file; lineage
comes from the file source's `_metadata` (path and modification time; a stream has no ETags); the
checkpoint (under `metadata/streaming-peer/`) is what remembers which files were processed.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spark-jobs"))

from pyspark import StorageLevel  # noqa: E402
from pyspark.sql import DataFrame, SparkSession  # noqa: E402
from pyspark.sql import functions as F  # noqa: E402
from watcher_job.cleaning import clean  # noqa: E402
from watcher_job.columns import SOURCE_KEY  # noqa: E402
from watcher_job.curation import add_partition_columns, deduplicate  # noqa: E402
from watcher_job.delta_table import commit_tag  # noqa: E402
from watcher_job.lake import join_uri, staging_key  # noqa: E402
from watcher_job.merge import merge_into_curated, probe_curated  # noqa: E402
from watcher_job.session import JOB_CONF  # noqa: E402
from watcher_job.spec import check_rows, failed_rows, parse_spec, passed_rows, validate_spec  # noqa: E402

PATH, MODIFIED = "zz_peer_path", "zz_peer_modified"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True)
    parser.add_argument("--dataset", default="orders")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--max-files-per-trigger", type=int, default=100)
    ns = parser.parse_args()
    spark = SparkSession.builder.appName("streaming-peer").getOrCreate()
    for k, v in JOB_CONF.items():
        spark.conf.set(k, v)
    spec = parse_spec(ns.spec)
    lake = ns.lake.rstrip("/")
    raw = join_uri(lake, "raw", ns.dataset)
    prefix = lake.replace("file:///", "file:/") + "/"
    schema = spark.read.option("recursiveFileLookup", "true").parquet(raw).schema
    stream = (
        spark.readStream.schema(schema)
        .option("maxFilesPerTrigger", ns.max_files_per_trigger)
        .option("recursiveFileLookup", "true")
        .parquet(raw)
        .select(
            "*",
            # the lake-relative key, as the job's `_source_key`
            F.expr(f"substring(_metadata.file_path, {len(prefix) + 1})").alias(PATH),
            F.col("_metadata.file_modification_time").alias(MODIFIED),
        )
    )

    def process(batch: DataFrame, batch_id: int) -> None:
        # The micro-batch's own session (a clone of `spark`): the merge's temp view must live where its SQL runs.
        session = batch.sparkSession
        cleaned = batch.transform(clean(F.col(PATH), "", F.col(MODIFIED), spec.null_tokens)).drop(PATH, MODIFIED)
        validate_spec(cleaned, spec)
        checked = cleaned.transform(check_rows(spec)).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            checked.transform(passed_rows).write.mode("append").parquet(join_uri(lake, "cleaned", ns.dataset))
            checked.transform(failed_rows).write.mode("append").parquet(join_uri(lake, "quarantine", ns.dataset))
            offered = (
                checked.transform(passed_rows)
                .transform(add_partition_columns(spec.partition_by))
                .transform(deduplicate(spec.keys, spec.order_by))
            )
            keys = [r[0] for r in offered.select(SOURCE_KEY).distinct().collect()]
            if not keys:
                return
            curated = join_uri(lake, "curated", ns.dataset)
            merge_into_curated(
                session,
                offered,
                curated=probe_curated(session, curated, spec.table_format),
                curated_uri=curated,
                staging_uri=join_uri(lake, staging_key(ns.dataset)),
                keys=keys,
                spec=spec,
                tag=commit_tag(f"streaming-peer-{batch_id}", [(k, "") for k in keys]),
            )
        finally:
            checked.unpersist()

    query = (
        stream.writeStream.foreachBatch(process)
        .trigger(availableNow=True)
        .option("checkpointLocation", join_uri(lake, "metadata", "streaming-peer", ns.dataset))
        .start()
    )
    query.awaitTermination()
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
