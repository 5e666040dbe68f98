"""Long-lived worker: holds one Spark Connect session and runs the job per request.

    python worker.py --remote sc://127.0.0.1:15002 --session-id <uuid>

Protocol, JSON lines: the worker writes `{"type": "ready", "sparkVersion", "sessionId"}` once
connected, then reads one request per stdin line (see watcher_job/serve.py) and writes one
`{"type": "result", ...}` line per request, in order. Anything else the process prints goes to
stderr, so stdout carries the protocol only. If the server cannot be reached at start it writes
`{"type": "fatal", "connectionLost": true, "message"}` and exits 3; after a reply with
`connectionLost` it exits 3 as well, since its session is gone. End of stdin: release the
session and exit 0.

The session id is the controller's: a replacement worker for one that died mid-job reuses it and
first interrupts whatever its predecessor left running on the server, and drops its cache.

A worker whose controller is gone (killed with SIGKILL: it could not stop its workers, which run
in their own process groups) interrupts its session's job and exits at once (exit 4, a line on
stderr), instead of finishing a job whose version the restarted controller runs again: an orphan
must never write curated beside the rerun.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time

EXIT_CONNECTION_LOST = 3
EXIT_ORPHANED = 4
# How often the worker checks that the controller that started it still runs.
PARENT_CHECK_SECONDS = 0.25


def _protocol_out():
    """The real stdout for protocol lines; everything printed elsewhere goes to stderr."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return out


def _fail_fast(spark) -> None:
    """Give up on an unreachable server after about 4 s instead of the client's default 10 minutes.

    The controller has somewhere else to run the job (spark-submit), so a lost server must be
    reported quickly rather than waited out.
    """
    from pyspark.sql.connect.client.retries import DefaultPolicy

    spark.client.set_retry_policies([DefaultPolicy(max_retries=4, initial_backoff=100, max_backoff=2000)])


def _exit_when_orphaned(spark, parent: int) -> None:
    """Runs on a daemon thread: once the process that started this worker is gone (the worker was
    reparented), interrupt whatever the session runs and exit without another protocol line."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    gone = f"worker.py: the controller (pid {parent}) is gone: interrupting the session's job and exiting"
    print(gone, file=sys.stderr)
    try:
        spark.interruptAll()
    except Exception:  # noqa: BLE001 - the server may be gone too; exiting is what matters
        pass
    os._exit(EXIT_ORPHANED)


def main() -> int:
    parser = argparse.ArgumentParser(prog="worker.py", description=__doc__.splitlines()[0])
    parser.add_argument("--remote", required=True, help="Spark Connect URL, sc://host:port")
    parser.add_argument("--session-id", required=True, help="Spark Connect session id (a UUID)")
    ns = parser.parse_args()
    parent = os.getppid()
    out = _protocol_out()

    def send(message: dict) -> None:
        out.write(json.dumps(message, default=str) + "\n")
        out.flush()

    from pyspark.sql import SparkSession

    from watcher_job.serve import connection_lost, handle, parse_request

    logging.getLogger("DataFrameQueryContextLogger").setLevel(logging.CRITICAL)
    try:
        spark = SparkSession.builder.remote(f"{ns.remote.rstrip('/')}/;session_id={ns.session_id}").getOrCreate()
        _fail_fast(spark)
        spark.interruptAll()  # a predecessor's job, if it died mid-run
        spark.catalog.clearCache()
        version = spark.version
    except Exception as exc:  # noqa: BLE001 - reported on the protocol, then exit
        lost = connection_lost(exc)
        send({"type": "fatal", "connectionLost": lost, "message": " ".join(str(exc).split())[:2000]})
        return EXIT_CONNECTION_LOST if lost else 1
    threading.Thread(target=_exit_when_orphaned, args=(spark, parent), name="orphan-check", daemon=True).start()
    send({"type": "ready", "sparkVersion": version, "sessionId": ns.session_id})

    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request_id, args = parse_request(json.loads(line))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            bad = {"exitCode": 2, "kind": "permanent", "errorType": "BadRequest", "message": str(exc)}
            send({"type": "result", "id": None, **bad})
            continue
        reply = handle(spark, request_id, args)
        send(reply)
        if reply.get("connectionLost"):
            return EXIT_CONNECTION_LOST
    try:
        spark.stop()
    except Exception:  # noqa: BLE001 - the server may be gone already
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
