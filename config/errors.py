"""Every error kamsync raises on purpose, in one tree.

The tree lives in ``config`` because that is the bottom layer: every other package may import
it, and it imports nothing of ours.  Each class says whether it is *transient* (the shared HTTP
session retries it, with backoff, honouring ``Retry-After``) or *permanent* (surfaced at once),
and which exit code the CLI maps it to.

::

    KamsyncError                        exit 1 unless said otherwise
    ├── ConfigError                     exit 2: the file, the key and what is wrong
    ├── UsageError                      exit 2: bad command-line arguments
    │   └── StalePlanError              a write-back plan made for another source or state
    ├── WarehouseError                  the DuckDB file cannot be used
    │   ├── SchemaVersionError          the file was written by a newer kamsync
    │   └── WarehouseBusyError          another kamsync job holds the warehouse
    ├── CrmError                        a CRM could not be reached or said no
    │   ├── TransientError              retried by the session policy, then raised
    │   │   ├── RateLimitedError        HTTP 429 / service protection, carries retry_after
    │   │   ├── ServerError             HTTP 5xx
    │   │   └── ConnectionFailedError   reset, refused, timed out
    │   └── PermanentError              never retried
    │       ├── UntrustedCertificateError  the endpoint's TLS certificate failed verification
    │       ├── AuthenticationError     the token endpoint refused the credentials
    │       ├── SessionExpiredError     401 after one re-authentication
    │       ├── ApiBudgetExceededError  the org's daily API use would pass the budget
    │       ├── MalformedResponseError  a body that is not what the API documents
    │       ├── RequestRejectedError    any other 4xx, with the CRM's error code and message
    │       └── DeltaTokenExpiredError  a change-tracking token the CRM no longer knows
    ├── RunFailedError                  a sync, analyze or write-back step failed
    └── UnsafeWriteError                a write-back target is not kamsync's own custom object

Messages never contain secrets: callers pass only what is safe to show, and the logging filter
in :mod:`sync.logs` masks known secret values as a second line of defence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class KamsyncError(Exception):
    """Root of every error kamsync raises on purpose."""

    exit_code: ClassVar[int] = 1
    transient: ClassVar[bool] = False

    def reason_at(self, source: str) -> str:
        """The message without ``source``'s name in front, for reports that name it already."""
        return str(self).removeprefix(f"{source}: ")


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file: where it is and what is wrong."""

    file: str
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}"


class ConfigError(KamsyncError):
    """The configuration cannot be used; lists every problem found, not just the first."""

    exit_code: ClassVar[int] = 2

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        count = len(problems)
        head = f"configuration has {count} problem{'s' if count != 1 else ''}:"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


class UsageError(KamsyncError):
    """The command line asks for something that cannot be done."""

    exit_code: ClassVar[int] = 2


class StalePlanError(UsageError):
    """A write-back plan (``--plan FILE``) does not fit the warehouse or the configuration now."""


class WarehouseError(KamsyncError):
    """The warehouse file cannot be opened, migrated or published."""


class SchemaVersionError(WarehouseError):
    """The warehouse file was written by a newer kamsync than this one."""


class WarehouseBusyError(WarehouseError):
    """Another kamsync job held the warehouse for longer than this one would wait."""


class CrmError(KamsyncError):
    """A CRM could not be reached or refused a request.

    ``source`` names the configured source; ``status`` is the HTTP status when there was one;
    ``code`` is the CRM's own error code (``INVALID_SESSION_ID``, ``0x80072322``...).
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.source = source
        self.status = status
        self.code = code
        prefix = f"{source}: " if source else ""
        super().__init__(prefix + message)


class TransientError(CrmError):
    """Worth retrying: the same request may well succeed later."""

    transient: ClassVar[bool] = True


class RateLimitedError(TransientError):
    """The CRM asked us to slow down (HTTP 429 or its service-protection equivalent)."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        source: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, source=source, status=status, code=code)


class ServerError(TransientError):
    """The CRM failed on its side (HTTP 5xx)."""


class ConnectionFailedError(TransientError):
    """The connection was refused, reset or timed out."""


class PermanentError(CrmError):
    """Retrying the same request will not help."""


class UntrustedCertificateError(PermanentError):
    """The endpoint's TLS certificate could not be verified: the same handshake will fail again
    until its certificate authority is trusted (``ca_bundle``) or the certificate is fixed."""


class AuthenticationError(PermanentError):
    """The token endpoint refused the configured credentials."""


class SessionExpiredError(PermanentError):
    """The session stayed invalid after one re-authentication."""


class ApiBudgetExceededError(PermanentError):
    """Going on would pass the share of the org's daily API limit kamsync may use."""

    def __init__(self, message: str, *, used: int, limit: int, source: str | None = None) -> None:
        self.used = used
        self.limit = limit
        super().__init__(message, source=source, code="API_BUDGET")


class MalformedResponseError(PermanentError):
    """The CRM answered with a body that is not what its API documents."""


class RequestRejectedError(PermanentError):
    """The CRM rejected the request (HTTP 4xx) for a reason retrying cannot fix."""


class DeltaTokenExpiredError(PermanentError):
    """A change-tracking token is no longer known to the CRM; a full resync is needed."""


class RunFailedError(KamsyncError):
    """A sync, analyze or write-back step failed; nothing it did was committed."""


class UnsafeWriteError(KamsyncError):
    """A write-back target is not kamsync's own custom object or field; nothing was sent."""
