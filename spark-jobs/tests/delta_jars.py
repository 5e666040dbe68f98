"""The Delta Lake jars and settings the tests' Spark sessions and spark-submit runs need.

The jars are the ones `npx s3-spark-watcher setup` fetches (src/engines/delta-support.ts) into
`.cache/spark-jars/delta-<version>/`, for the Spark line of the PySpark that runs the tests.
"""

from __future__ import annotations

from pathlib import Path

import pyspark

REPO = Path(__file__).resolve().parents[2]
# Spark line -> (Delta version, Scala binary version): as DELTA_RELEASES in src/engines/delta-support.ts.
RELEASES = {"4.0": ("4.0.1", "2.13"), "3.5": ("3.3.2", "2.12")}
CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def delta_jars() -> list[str]:
    line = ".".join(pyspark.__version__.split(".")[:2])
    if line not in RELEASES:
        raise RuntimeError(f"no Delta Lake release is set up for PySpark {pyspark.__version__}")
    version, scala = RELEASES[line]
    folder = REPO / ".cache" / "spark-jars" / f"delta-{version}"
    jars = [folder / f"delta-spark_{scala}-{version}.jar", folder / f"delta-storage-{version}.jar"]
    missing = [j.name for j in jars if not j.exists()]
    if missing:
        raise RuntimeError(
            f"the Delta Lake jars {missing} are not in {folder}: run `npx s3-spark-watcher setup` from {REPO}"
            + ("" if line == "4.0" else " with --emr-runtimes (it fetches them for Spark 3.5 too)")
        )
    return [str(j) for j in jars]


def submit_args() -> list[str]:
    """spark-submit arguments that load Delta, as the controller's engine passes them (local mode)."""
    conf = {**CONF, "spark.driver.extraClassPath": ":".join(delta_jars())}
    return [a for k, v in conf.items() for a in ("--conf", f"{k}={v}")]
