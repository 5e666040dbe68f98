"""Typed job errors: they say what the controller should do with the file version.

`PermanentJobError` -> exit 2, dead-letter now (the input or the spec can never work).
`RetryableJobError` -> exit 1, the same run may pass later (I/O, cluster, unexpected bug).
`type` is a short stable name that goes into the report's `error.type`.
"""

from __future__ import annotations

from typing import ClassVar


class JobError(Exception):
    """Base class; `kind` is the report's `error.kind`."""

    kind: ClassVar[str] = "retryable"

    def __init__(self, message: str, *, type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.type = type or self.__class__.__name__
        # Filled by run_job with the failed report it wrote (or tried to write).
        self.report: dict | None = None
        # Set by run_job: the traceback of an unexpected cause, and a report write failure.
        self.traceback: str | None = None
        self.report_error: str | None = None


class PermanentJobError(JobError):
    """The file version can never be processed as is: do not retry."""

    kind: ClassVar[str] = "permanent"


class RetryableJobError(JobError):
    """Something that may pass on a retry (storage, cluster, or an unexpected bug)."""

    kind: ClassVar[str] = "retryable"


class InvalidArgumentsError(PermanentJobError):
    """Bad command-line arguments (lake URI, run id, report URI)."""


class InvalidManifestError(InvalidArgumentsError):
    """The batch manifest is missing or unusable; the message names the problem."""


class InvalidKeyError(PermanentJobError):
    """The key is not a usable `raw/...` object key."""


class InvalidSpecError(PermanentJobError):
    """The dataset spec is malformed; the message names the field."""


class MissingColumnError(PermanentJobError):
    """The spec names a column that the file does not have."""


class UnreadableInputError(PermanentJobError):
    """The raw object is not readable Parquet (text, truncated, corrupt, zero bytes, gone)."""


class CuratedConflictError(PermanentJobError):
    """The new rows cannot be merged into curated (column type or partitioning changed)."""
