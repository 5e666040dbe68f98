"""One job per file vs one batch job, on the same warm local SparkSession (not a test).

    .venv/bin/python bench/batch_job_speed.py [--files 100] [--rows 5000] [--warmup 20] [--warmup-rounds 3]
        [--threads N] [--batch-only] [--format delta|parquet]

Makes N Parquet files of one dataset with make_bench_files.py (file i: day i's orders, 5% of them
twice, 2% late updates of day i-1's), and the demo's orders spec (types, rules, keys, orderBy, a
partition by day). In one local[2] session configured like the controller's local engine
(src/engines/local-spark-conf.ts: shuffle partitions = cores, AQE off): first warm-up rounds
(both forms on other lakes), then the N files as one batch run into a lake, as N single-file
runs in order into another, and as one batch again into a third (the JVM keeps warming up, so
the batch is timed before and after). Prints files/min of each, the ratio, where the time goes
(the reports' timingsMs) and whether the curated tables of the single runs and the first batch
hold the same rows. Curated is a Delta table (the spec's default; the session loads the Delta jars
`npx s3-spark-watcher setup` fetched) or, with --format parquet, Parquet folders. Also prints
the CPU seconds each used (this process and its JVM), which other
work on the machine does not inflate as it does wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "spark-jobs"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=20, help="files per form in a warm-up round")
    parser.add_argument("--warmup-rounds", type=int, default=3, help="warm-up rounds (the JVM's JIT needs a few)")
    parser.add_argument("--threads", type=int, default=None, help="batch.THREADS (default: the job's)")
    parser.add_argument("--batch-only", action="store_true", help="time the batch run only (no ratio)")
    parser.add_argument("--format", choices=("delta", "parquet"), default="delta", help="curated's tableFormat")
    ns = parser.parse_args()
    sys.path.insert(0, str(ROOT / "spark-jobs" / "tests"))
    from delta_jars import CONF as DELTA_CONF
    from delta_jars import delta_jars
    from pyspark.sql import SparkSession
    from watcher_job import batch
    from watcher_job.batch import BatchArgs
    from watcher_job.job import JobArgs, run_job

    if ns.threads:
        batch.THREADS = ns.threads
    work = Path(tempfile.mkdtemp(prefix="s3sw-batch-bench-"))
    try:
        source = work / "source"
        subprocess.run(
            [sys.executable, str(HERE / "make_bench_files.py"), str(source), str(ns.files), str(ns.rows), "1"],
            check=True,
        )
        keys = sorted(str(p.relative_to(source)) for p in (source / "raw").rglob("*.parquet"))
        demo_spec = json.loads((ROOT / "demo" / "datasets" / "orders.json").read_text())
        spec = json.dumps({**demo_spec, "tableFormat": ns.format})
        builder = SparkSession.builder.master("local[2]").config("spark.jars", ",".join(delta_jars()))
        for k, v in DELTA_CONF.items():
            builder = builder.config(k, v)
        spark = (
            builder.config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", str(os.cpu_count() or 2))
            .config("spark.sql.adaptive.enabled", "false")
            .config("spark.driver.memory", "4g")
            .config("spark.log.level", "ERROR")
            .getOrCreate()
        )

        jvm = spark.sparkContext._gateway.proc.pid  # the bench's own JVM (not the job's business)

        def cpu_s() -> float:
            """CPU seconds used so far by this process and its JVM: unlike wall time, not inflated
            by other work on the machine."""
            with open(f"/proc/{jvm}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            own = os.times()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") + own.user + own.system

        def lake(name: str) -> str:
            shutil.copytree(source, work / name)
            return f"file://{work / name}"

        def singles(root: str, files: list[str]) -> list[dict]:
            return [
                run_job(spark, JobArgs(lake=root, key=k, etag=f"e-{k}", run_id=f"r{i}", spec=spec))
                for i, k in enumerate(files)
            ]

        def batch_run(root: str, files: list[str], run_id: str) -> dict:
            manifest = Path(root[len("file://") :]) / "metadata" / "batches" / f"{run_id}.json"
            manifest.parent.mkdir(parents=True, exist_ok=True)
            body = {"version": 1, "runId": run_id, "dataset": "orders",
                    "files": [{"key": k, "etag": f"e-{k}"} for k in files]}  # fmt: skip
            manifest.write_text(json.dumps(body))
            return run_job(spark, BatchArgs(lake=root, manifest=f"file://{manifest}", run_id=run_id, spec=spec))

        print(f"{ns.files} files of {ns.rows} rows; warm-up ({ns.warmup_rounds} x {ns.warmup} files)", file=sys.stderr)
        for r in range(ns.warmup_rounds):
            if not ns.batch_only:
                singles(lake(f"warm-single-{r}"), keys[: ns.warmup])
            batch_run(lake(f"warm-batch-{r}"), keys[: ns.warmup], "warm")

        def timed_batch(name: str) -> tuple[str, dict, float, float]:
            root = lake(name)
            started, cpu = time.perf_counter(), cpu_s()
            report = batch_run(root, keys, name)
            return root, report, time.perf_counter() - started, cpu_s() - cpu

        # A batch before and one after the single runs: the JVM keeps warming up over the run.
        batch_root, report, batch_s, batch_cpu = timed_batch("batch")
        single_root = lake("single")
        started, cpu = time.perf_counter(), cpu_s()
        reports = [] if ns.batch_only else singles(single_root, keys)
        single_s, single_cpu = time.perf_counter() - started, cpu_s() - cpu
        _, report2, batch2_s, batch2_cpu = timed_batch("batch-after")
        failed = [f["key"] for f in (*report["files"], *report2["files"]) if f["status"] != "succeeded"]

        def curated(root: str) -> list:
            table = f"{root}/curated/orders"
            if ns.format == "delta":
                df = spark.read.format("delta").load(table)
            else:
                df = spark.read.option("mergeSchema", "true").parquet(table)
            return sorted(tuple(str(v) for v in r) for r in df.select(*sorted(df.columns)).collect())

        runs = (
            ("batch run (before)", report, batch_s, batch_cpu),
            ("batch run (after)", report2, batch2_s, batch2_cpu),
        )
        for name, rep, took, cpu in runs:
            print(f"{name}: {ns.files} files in {took:.1f} s = {ns.files / took * 60:.0f} files/min, {cpu:.1f} CPU s")
            print(f"  ms by phase: {rep['timingsMs']}")
        if ns.batch_only:
            print(f"failed files in the batches: {failed or 'none'}")
            return 0
        a, b = curated(single_root), curated(batch_root)
        same = a == b
        if not same:
            sa, sb = set(a), set(b)
            print(f"only one by one: {len(sa - sb)} rows, e.g. {sorted(sa - sb)[:3]}", file=sys.stderr)
            print(f"only batched: {len(sb - sa)} rows, e.g. {sorted(sb - sa)[:3]}", file=sys.stderr)
            if os.environ.get("BENCH_KEEP"):
                print(f"kept {work}", file=sys.stderr)
                return 1
        phases = sorted({p for r in reports for p in r["timingsMs"]})
        median = {p: statistics.median(r["timingsMs"].get(p, 0) for r in reports) for p in phases}
        print(f"single runs: {ns.files} files in {single_s:.1f} s = {ns.files / single_s * 60:.0f} files/min,"
              f" {single_cpu:.1f} CPU s")  # fmt: skip
        print(f"  median ms per file by phase: {median}")
        mean_s = (batch_s + batch2_s) / 2
        print(f"ratio (batch files/min / single files/min): {single_s / mean_s:.1f}x with the mean of both batches"
              f" ({single_s / batch_s:.1f}x before, {single_s / batch2_s:.1f}x after)")  # fmt: skip
        print(f"CPU time ratio (single / batch): {single_cpu / batch_cpu:.1f}x before,"
              f" {single_cpu / batch2_cpu:.1f}x after; load average now {os.getloadavg()[0]:.1f}"
              " (other work on the machine inflates wall times)")  # fmt: skip
        print(f"failed files in the batch: {failed or 'none'}; curated identical: {same}")
        spark.stop()
        return 0 if same and not failed else 1
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
