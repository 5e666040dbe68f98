"""Converting a Parquet curated table into a Delta Lake table in place (`curated convert`).

Delta's `CONVERT TO DELTA` writes a first commit that lists the Parquet files already there, so
no data file is rewritten or moved; readers that read the folder as Parquet still can until a
later commit replaces files. The rows are counted before and after: the conversion keeps every
row or says it did not. The commit is tagged like the job's (`userMetadata` with this run's id),
so `status` names the run that converted the table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from pyspark.sql import SparkSession

from .delta_table import _APP, _USER_METADATA, probe_delta
from .errors import PermanentJobError, RetryableJobError
from .lake import escape_glob, join_uri, staging_key
from .merge import convert_statement, probe_settled
from .session import JOB_CONF, session_conf


class NoCuratedTableError(PermanentJobError):
    """There is no curated table to convert."""


@dataclass(frozen=True)
class Conversion:
    dataset: str
    table: str
    converted: bool
    """False when the table was a Delta table already (nothing was done)."""
    version: int
    rows: int
    partitionBy: list[str]
    statement: str | None


def check_dataset(dataset: str) -> str:
    """A dataset is one folder name under curated/: non-empty, no `/`, NUL, `.` or `..`."""
    if not dataset or "/" in dataset or "\x00" in dataset or dataset in (".", ".."):
        raise PermanentJobError(f"--dataset must be a dataset name (one folder under curated/), got {dataset!r}")
    return dataset


def convert_curated(spark: SparkSession, lake: str, dataset: str, run_id: str) -> Conversion:
    """Convert `curated/<dataset>/` of `lake` to Delta in place, keeping every row."""
    uri = join_uri(lake, "curated", check_dataset(dataset))
    with session_conf(spark, JOB_CONF):
        files = probe_settled(spark, uri, join_uri(lake, staging_key(dataset)))
        if files is None:
            raise NoCuratedTableError(f"there is no curated table at {uri}: nothing to convert")
        if files.delta is not None:
            rows = spark.read.format("delta").load(uri).count()
            return Conversion(dataset, uri, False, files.delta.version, rows, files.partition_names, None)
        before = spark.read.option("mergeSchema", "true").parquet(escape_glob(uri)).count()
        statement = convert_statement(uri, files)
        tag = json.dumps({"app": _APP, "runId": run_id, "operation": "convert"}, sort_keys=True)
        with session_conf(spark, {_USER_METADATA: tag}):
            spark.sql(statement)
        converted = probe_delta(spark, uri)
        after = spark.read.format("delta").load(uri).count()
    if converted is None or after != before:
        raise RetryableJobError(
            f"{uri} was converted but reads {after} rows where the Parquet table had {before}"
            if converted is not None
            else f"{statement} ran but {uri} is not a Delta table"
        )
    _, partition_names, state = converted
    return Conversion(dataset, uri, True, state.version, after, partition_names, statement)


def conversion_line(conversion: Conversion) -> str:
    """The last stdout line of a conversion, read by the controller."""
    return "curated_convert: " + json.dumps(asdict(conversion), sort_keys=True)
