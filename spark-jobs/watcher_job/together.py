"""Reading many raw files as ONE DataFrame (the batch form): one plan for all of them instead of
one per file.

Building a plan costs driver round trips per column expression (in PySpark 4 classic about eight
py4j calls each, most of them recording the call site for error messages), hundreds per file;
a Spark job costs scheduling whatever its size. So the batch form reads its small files of one
schema together: one relation over all their paths, with each row's lineage (`_source_key`,
`_source_etag`) joined from a small table on the file source's hidden `_metadata.file_path`, and
`_ingested_at` from `_metadata.file_modification_time` as for one file.

The paths to join on are the ones Spark itself reported for these files (`inventory`), so the
join matches exactly; a file the inventory did not report is not read this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from watcher_job.cleaning import unique_snake_names
from watcher_job.columns import INGESTED_AT, SOURCE_ETAG, SOURCE_KEY, col
from watcher_job.lake import escape_glob
from watcher_job.sparkio import SPARK_ERRORS

_PATH = "__path"


@dataclass(frozen=True)
class FileStats:
    path: str
    """The file's path as Spark reports it in `_metadata.file_path`."""
    rows: int
    size: int


@dataclass(frozen=True)
class Source:
    """One raw file to read together with others."""

    uri: str
    path: str
    key: str
    etag: str


def _path_id(path: str, *, encoded: bool) -> str:
    """A file path without its scheme and leading slashes (`file:/a` and `file:///a` are one)."""
    if encoded:
        path = unquote(path)
    scheme, sep, rest = path.partition(":")
    if sep and "/" not in scheme:
        path = rest
    return path.lstrip("/")


def inventory(spark: SparkSession, uris: Sequence[str]) -> dict[str, FileStats]:
    """{uri: stats} for the files that hold rows, from one query over all of them: the row counts
    come from the footers and the sizes from the listing (no column is read). Empty when the
    query fails (a file gone or not Parquet): the caller then asks file by file, which names it.
    A file with no rows has no group, so it is absent too."""
    if not uris:
        return {}
    by_id = {_path_id(u, encoded=False): u for u in uris}
    try:
        df = spark.read.schema(StructType([])).parquet(*[escape_glob(u) for u in uris])
        rows = (
            df.groupBy(F.col("_metadata.file_path").alias(_PATH))
            .agg(F.count(F.lit(1)).alias("rows"), F.max(F.col("_metadata.file_size")).alias("size"))
            .collect()
        )
    except SPARK_ERRORS:
        return {}
    found: dict[str, FileStats] = {}
    for r in rows:
        uri = by_id.get(_path_id(r[_PATH], encoded=True))
        if uri is not None:
            found[uri] = FileStats(path=r[_PATH], rows=int(r["rows"]), size=int(r["size"]))
    return found


def named_rows_with_lineage(spark: SparkSession, schema: StructType, sources: Sequence[Source]) -> DataFrame:
    """The rows of every source (all of `schema`), columns snake_cased as `normalize_column_names`
    does, then `_source_key`, `_source_etag` and `_ingested_at` as `add_lineage` adds them for one
    file (same names, types and nullability)."""
    lineage = StructType(
        [StructField(_PATH, StringType(), False), StructField(SOURCE_KEY, StringType(), False),
         StructField(SOURCE_ETAG, StringType(), False)]
    )  # fmt: skip
    files = spark.createDataFrame([(s.path, s.key, s.etag) for s in sources], lineage)
    names = unique_snake_names(schema.names)
    raw = spark.read.schema(schema).parquet(*[escape_glob(s.uri) for s in sources]).toDF(*names)
    located = raw.select(
        "*",
        F.col("_metadata.file_path").alias(_PATH),
        F.col("_metadata.file_modification_time").cast("timestamp").alias(INGESTED_AT),
    )
    joined = located.join(F.broadcast(files), _PATH)
    return joined.select(*[col(n) for n in (*names, SOURCE_KEY, SOURCE_ETAG, INGESTED_AT)])
