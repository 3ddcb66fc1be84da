"""The typed, immutable shape of ``kamsync.toml``.

Each section is a frozen pydantic model with ``extra="forbid"`` and strict types, so unknown keys
and wrong types are errors rather than surprises.  Checks that need the outside world (is the
environment variable set, is the file readable) read it from the validation context that
:func:`config.loader.load_config` passes, so tests can inject both.

Defaults are those of SPEC section 6; every number there is a key here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

SOURCE_NAME_RE = re.compile(r"^[a-z0-9_]+$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SALESFORCE_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
DATAVERSE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

DEFAULT_SALESFORCE_OBJECTS: tuple[str, ...] = (
    "User",
    "Account",
    "Contact",
    "Product2",
    "Opportunity",
    "OpportunityLineItem",
    "OpportunityContactRole",
    "Task",
    "Event",
)
DEFAULT_DYNAMICS_TABLES: tuple[str, ...] = (
    "systemuser",
    "account",
    "contact",
    "product",
    "opportunity",
    "opportunityproduct",
    "phonecall",
    "appointment",
    "email",
    "task",
)
SCHEDULE_JOBS: tuple[str, ...] = ("sync", "analyze", "writeback", "run")
WEIGHT_TOLERANCE = 1e-6


# --------------------------------------------------------------------------- context helpers


def _context(info: ValidationInfo) -> Mapping[str, Any]:
    return info.context if isinstance(info.context, Mapping) else {}


def _check_env_name(value: str, info: ValidationInfo) -> str:
    if not ENV_NAME_RE.match(value):
        # never echo the value: a secret pasted here instead of a variable name must not leak
        raise ValueError(
            "must be the name of an environment variable (letters, digits, underscore), "
            "not a secret value"
        )
    context = _context(info)
    if not context.get("check_env", True):
        return value  # a command that reaches no CRM does not need its credentials
    env = context.get("env", os.environ)
    if not env.get(value):
        raise ValueError(f"environment variable {value} is not set")
    return value


def _resolve_readable_file(value: Path, info: ValidationInfo) -> Path:
    base = _context(info).get("base_dir")
    path = value.expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    if not path.is_file():
        raise ValueError(f"file {str(value)!r} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"file {str(value)!r} is not readable")
    return path


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    base = _context(info).get("base_dir")
    path = value.expanduser()
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


def _check_https_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"must be an https:// URL with a host, got {value!r}")
    return value.rstrip("/")


def _check_source_name(value: str) -> str:
    if not SOURCE_NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid source name: use lower-case letters, digits and _ only"
        )
    return value


def _check_cron(value: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    try:
        CronTrigger.from_crontab(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid cron expression ({exc})") from None
    return value


def _path_from_str(value: Any) -> Any:
    # TOML has no path type: accept a string, refuse everything else with a type error
    return Path(value) if isinstance(value, str) else value


def _list_to_tuple(value: Any) -> Any:
    # TOML arrays arrive as lists; the model keeps immutable tuples
    return tuple(value) if isinstance(value, list) else value


def _check_sf_field(value: str) -> str:
    if not SALESFORCE_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a valid Salesforce API name")
    return value


def _check_dv_field(value: str) -> str:
    if not DATAVERSE_NAME_RE.match(value):
        raise ValueError(f"{value!r} is not a valid Dataverse logical name")
    return value


EnvName = Annotated[str, AfterValidator(_check_env_name)]
ReadableFile = Annotated[
    Path, BeforeValidator(_path_from_str), AfterValidator(_resolve_readable_file)
]
AnyPath = Annotated[Path, BeforeValidator(_path_from_str), AfterValidator(_resolve_path)]
HttpsUrl = Annotated[str, AfterValidator(_check_https_url)]
SourceName = Annotated[str, AfterValidator(_check_source_name)]
Cron = Annotated[str, AfterValidator(_check_cron)]
SalesforceField = Annotated[str, AfterValidator(_check_sf_field)]
DataverseField = Annotated[str, AfterValidator(_check_dv_field)]
Fraction = Annotated[float, Field(ge=0, le=1)]
Weight = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]


class Model(BaseModel):
    """Base of every section: frozen, strict types, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _check_weights_sum(weights: BaseModel, what: str) -> None:
    total = sum(float(v) for v in weights.model_dump().values())
    if abs(total - 1.0) > WEIGHT_TOLERANCE:
        raise ValueError(f"{what} weights must sum to 1, they sum to {total:.4f}")


# --------------------------------------------------------------------------- warehouse


RESERVED_CATALOGS = frozenset({"kam", "crm", "ops", "main", "memory", "system", "temp"})


def _catalog_name(path: Path) -> str:
    """The catalog name DuckDB gives a file: its name without leading dots, up to the next dot."""
    return path.name.lstrip(".").split(".", 1)[0]


def _check_catalog_name(path: Path) -> Path:
    catalog = _catalog_name(path)
    if catalog.lower() in RESERVED_CATALOGS or catalog.lower().startswith("raw_"):
        raise ValueError(
            f"a file named {path.name!r} makes DuckDB call its catalog {catalog!r}, the name of a "
            f"kamsync schema, so queries such as {catalog}.<table> would fail as ambiguous; "
            "choose another name, e.g. kamsync.duckdb"
        )
    return path


WarehouseFile = Annotated[AnyPath, AfterValidator(_check_catalog_name)]


class WarehouseConfig(Model):
    """Where the warehouse lives.

    ``path`` is the file analysts open.  kamsync works on ``engine_path`` (by default a hidden
    file beside it) and publishes a consistent copy to ``path`` after each job, so a reader that
    holds ``path`` open never blocks or breaks a run.  One job at a time holds the engine; another
    waits up to ``lock_wait_seconds`` for it, then gives up with a message saying who holds it.
    ``memory_limit`` (a DuckDB size such as "2GB") applies to every job when set; unset, sync
    keeps to 256MB and analyze uses DuckDB's default (most of the machine's memory).
    """

    path: WarehouseFile = Path("kamsync.duckdb")
    engine_path: WarehouseFile | None = None
    memory_limit: str | None = None
    threads: PositiveInt | None = None
    lock_wait_seconds: float = Field(default=60.0, ge=0)

    @property
    def work_path(self) -> Path:
        """The file kamsync writes to."""
        if self.engine_path is not None:
            return self.engine_path
        return self.path.with_name(f".{self.path.name}.engine")


# --------------------------------------------------------------------------- sources


class SalesforceFields(Model):
    """CRM field names kamsync reads beyond the standard ones (set a key to "" to skip it)."""

    wallet_estimate: SalesforceField | Literal[""] = "Wallet_Estimate__c"
    global_match_key: SalesforceField | Literal[""] = "Global_DUNS__c"
    buying_role: SalesforceField | Literal[""] = "Buying_Role__c"
    user_region: SalesforceField | Literal[""] = "Region__c"
    user_territory: SalesforceField | Literal[""] = "Territory__c"
    market_position: SalesforceField | Literal[""] = "Market_Position__c"
    innovation_orientation: SalesforceField | Literal[""] = "Innovation_Orientation__c"
    strategy_influence: SalesforceField | Literal[""] = "Strategy_Influence__c"
    operational_complexity: SalesforceField | Literal[""] = "Operational_Complexity__c"


class DynamicsFields(Model):
    """Dataverse column names kamsync reads beyond the standard ones ("" skips one)."""

    wallet_estimate: DataverseField | Literal[""] = "new_walletestimate"
    global_match_key: DataverseField | Literal[""] = "new_globalmatchkey"
    buying_role: DataverseField | Literal[""] = "new_buyingrole"
    user_region: DataverseField | Literal[""] = "new_region"
    user_territory: DataverseField | Literal[""] = "new_territory"
    market_position: DataverseField | Literal[""] = "new_marketposition"
    innovation_orientation: DataverseField | Literal[""] = "new_innovationorientation"
    strategy_influence: DataverseField | Literal[""] = "new_strategyinfluence"
    operational_complexity: DataverseField | Literal[""] = "new_operationalcomplexity"
    visit_flag: DataverseField | Literal[""] = "new_isvisit"


class SourceBase(Model):
    """Settings every CRM source has."""

    name: SourceName
    ca_bundle: ReadableFile | None = None
    timeout_seconds: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=6, ge=0, le=20)
    schema_refresh_hours: float = Field(default=24.0, ge=0)


SalesforceAuth = Literal["client_credentials", "jwt", "refresh_token", "password"]


class SalesforceSource(SourceBase):
    """A Salesforce org."""

    kind: Literal["salesforce"]
    instance_url: HttpsUrl
    login_url: HttpsUrl = "https://login.salesforce.com"
    api_version: Annotated[str, Field(pattern=r"^\d{2,3}\.0$")] = "62.0"
    auth: SalesforceAuth = "client_credentials"
    api_budget_percent: float = Field(default=80.0, gt=0, le=100)
    client_id_env: EnvName
    client_secret_env: EnvName | None = None
    refresh_token_env: EnvName | None = None
    username: str | None = None
    private_key_file: ReadableFile | None = None
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    objects: Annotated[tuple[SalesforceField, ...], BeforeValidator(_list_to_tuple)] = (
        DEFAULT_SALESFORCE_OBJECTS
    )
    bulk_threshold: int = Field(default=10_000, ge=0)
    batch_size: int = Field(default=2000, ge=200, le=2000)
    fields: SalesforceFields = SalesforceFields()

    @model_validator(mode="after")
    def _auth_needs(self) -> SalesforceSource:
        needs: dict[str, tuple[str, ...]] = {
            "client_credentials": ("client_secret_env",),
            "jwt": ("username", "private_key_file"),
            "refresh_token": ("refresh_token_env",),
            "password": ("username_env", "password_env", "client_secret_env"),
        }
        missing = [key for key in needs[self.auth] if getattr(self, key) is None]
        if missing:
            raise ValueError(f"auth = {self.auth!r} needs {', '.join(missing)}")
        return self


class DynamicsSource(SourceBase):
    """A Dynamics 365 / Dataverse environment."""

    kind: Literal["dynamics"]
    url: HttpsUrl
    authority: HttpsUrl
    api_version: Annotated[str, Field(pattern=r"^9\.\d$")] = "9.2"
    client_id_env: EnvName
    client_secret_env: EnvName | None = None
    certificate_file: ReadableFile | None = None
    certificate_thumbprint: str | None = None
    tables: Annotated[tuple[DataverseField, ...], BeforeValidator(_list_to_tuple)] = (
        DEFAULT_DYNAMICS_TABLES
    )
    page_size: int = Field(default=5000, ge=1, le=5000)
    fields: DynamicsFields = DynamicsFields()

    @model_validator(mode="after")
    def _one_credential(self) -> DynamicsSource:
        has_secret = self.client_secret_env is not None
        has_cert = self.certificate_file is not None
        if has_secret == has_cert:
            raise ValueError("set exactly one of client_secret_env or certificate_file")
        if has_cert and not self.certificate_thumbprint:
            raise ValueError("certificate_file needs certificate_thumbprint")
        return self


Source = Annotated[SalesforceSource | DynamicsSource, Field(discriminator="kind")]


# --------------------------------------------------------------------------- analytics


class TriageWeights(Model):
    """Weights of the four triage factors (each factor scored 1-10); they sum to 1."""

    market_position: Weight = 0.30
    innovation_orientation: Weight = 0.20
    strategy_influence: Weight = 0.25
    operational_complexity: Weight = 0.25

    @model_validator(mode="after")
    def _sum(self) -> TriageWeights:
        _check_weights_sum(self, "triage")
        return self


class KeyAccountSettings(Model):
    """Key-account selection: Pareto classes, criteria and the triage score."""

    pareto_a: Fraction = 0.80
    pareto_b: Fraction = 0.95
    revenue_threshold: float = Field(default=1_000_000.0, ge=0)
    headroom_threshold: float = Field(default=1_000_000.0, ge=0)
    growth_threshold: float = 0.10  # year-over-year revenue growth that counts as growing
    triage_threshold: float = Field(default=6.0, ge=1, le=10)
    triage_weights: TriageWeights = TriageWeights()

    @model_validator(mode="after")
    def _ordered(self) -> KeyAccountSettings:
        if self.pareto_a >= self.pareto_b:
            raise ValueError("pareto_a must be below pareto_b")
        return self


class HealthWeights(Model):
    """Weights of the six health components; they sum to 1."""

    engagement_recency: Weight = 0.25
    activity_trend: Weight = 0.15
    relationship_breadth: Weight = 0.20
    pipeline_coverage: Weight = 0.15
    win_rate: Weight = 0.10
    revenue_trend: Weight = 0.15

    @model_validator(mode="after")
    def _sum(self) -> HealthWeights:
        _check_weights_sum(self, "health")
        return self


class HealthSettings(Model):
    """Account health: bands, how each component is scored, and the component weights.

    Each component scores 0-100.  ``recency_full_days``: a contact this recent scores 100, and
    the score falls linearly to 0 at ``engagement_days``.  ``contacts_target_min`` /
    ``contacts_target_max``: contacts engaged in the relationship window that score full breadth
    (the maximum for key accounts, the minimum for the others); ``decision_maker_weight`` is the
    share of the breadth score that comes from decision-maker coverage.  Pipeline coverage (open
    pipeline / TTM revenue) and win rate score 100 at their targets.  A component that cannot be
    measured (no closed opportunity, no revenue in either year) scores ``neutral_score``.  The
    explanation names up to ``explanation_drags`` components that cost the most points.
    """

    green: float = Field(default=70.0, ge=0, le=100)
    amber: float = Field(default=40.0, ge=0, le=100)
    contacts_target_min: PositiveInt = 3
    contacts_target_max: PositiveInt = 5
    decision_maker_weight: Fraction = 0.5
    recency_full_days: Annotated[int, Field(ge=0)] = 14
    pipeline_coverage_target: float = Field(default=0.5, gt=0)
    win_rate_target: float = Field(default=0.5, gt=0, le=1)
    neutral_score: float = Field(default=50.0, ge=0, le=100)
    explanation_drags: int = Field(default=2, ge=1, le=6)
    weights: HealthWeights = HealthWeights()

    @model_validator(mode="after")
    def _ordered(self) -> HealthSettings:
        if self.amber >= self.green:
            raise ValueError("amber must be below green")
        if self.contacts_target_min > self.contacts_target_max:
            raise ValueError("contacts_target_min must not exceed contacts_target_max")
        return self


class CallTargets(Model):
    """Target touches per month by tier (maintain: one a quarter)."""

    key: float = Field(default=4.0, ge=0)
    growth: float = Field(default=2.0, ge=0)
    maintain: float = Field(default=1.0 / 3.0, ge=0)
    non_key: float = Field(default=0.0, ge=0)


class ReviewDays(Model):
    """Days from the as-of date to an account's next plan review, by tier; red health overrides."""

    key: PositiveInt = 30
    growth: PositiveInt = 90
    maintain: PositiveInt = 180
    non_key: PositiveInt = 365
    red: PositiveInt = 14  # a red account is reviewed within this many days whatever its tier


PlanPeriod = Literal["month", "quarter", "year"]


class AnalyticsConfig(Model):
    """Windows, peer groups and the settings of every mart (SPEC section 6)."""

    as_of: date | Literal["today"] = "today"
    ttm_days: PositiveInt = 365
    engagement_days: PositiveInt = 90
    relationship_days: PositiveInt = 180
    size_bands: Annotated[tuple[PositiveInt, ...], BeforeValidator(_list_to_tuple)] = (
        50,
        250,
        1000,
        5000,
    )
    peer_min: PositiveInt = 20
    wallet_quantile: Fraction = 0.9
    targets_csv: ReadableFile | None = None
    key_accounts: KeyAccountSettings = KeyAccountSettings()
    health: HealthSettings = HealthSettings()
    call_targets: CallTargets = CallTargets()
    plan_period: PlanPeriod = "quarter"
    review_days: ReviewDays = ReviewDays()

    @model_validator(mode="after")
    def _recency_inside_window(self) -> AnalyticsConfig:
        if self.health.recency_full_days >= self.engagement_days:
            raise ValueError(
                f"health.recency_full_days ({self.health.recency_full_days}) must be below "
                f"engagement_days ({self.engagement_days})"
            )
        return self

    @field_validator("size_bands")
    @classmethod
    def _increasing(cls, bands: tuple[int, ...]) -> tuple[int, ...]:
        if list(bands) != sorted(set(bands)):
            raise ValueError("size_bands must be strictly increasing")
        return bands

    def as_of_date(self, today: date | None = None) -> date:
        """The analysis date: the configured one, or today."""
        if isinstance(self.as_of, date):
            return self.as_of
        return today or date.today()


# --------------------------------------------------------------------------- write-back


WritebackMode = Literal["auto", "collections", "bulk", "upsert_multiple", "batch"]
SALESFORCE_MODES: frozenset[str] = frozenset({"auto", "collections", "bulk"})
DYNAMICS_MODES: frozenset[str] = frozenset({"auto", "upsert_multiple", "batch"})
# kamsync writes only its own custom objects and fields: these name patterns are all it accepts
KAMSYNC_SALESFORCE_NAME_RE = re.compile(r"^KAM_[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*__c$")
KAMSYNC_DATAVERSE_NAME_RE = re.compile(r"^kam_[a-z0-9_]+$")


def _check_kamsync_name(value: str) -> str:
    if not (KAMSYNC_SALESFORCE_NAME_RE.match(value) or KAMSYNC_DATAVERSE_NAME_RE.match(value)):
        raise ValueError(
            f"{value!r} is not one of kamsync's own custom names: write-back writes only "
            "Salesforce KAM_*__c objects and fields or Dataverse kam_* tables and columns"
        )
    return value


KamsyncName = Annotated[str, AfterValidator(_check_kamsync_name)]


class WritebackTarget(Model):
    """Write-back settings of one source.

    ``object`` and ``fields`` (payload key -> field name) rename kamsync's custom object and
    fields for an org whose admin deployed them under other names; they must still be kamsync's
    own (``KAM_*__c`` in Salesforce, ``kam_*`` in Dataverse).  ``mode`` forces the API:
    ``collections`` or ``bulk`` for Salesforce, ``upsert_multiple`` or ``batch`` for Dataverse;
    ``auto`` chooses by size.
    """

    enabled: bool = True
    object: KamsyncName | None = None
    mode: WritebackMode = "auto"
    fields: dict[str, KamsyncName] = Field(default_factory=dict)


class WritebackConfig(Model):
    """Pushing scores into kamsync's own custom objects (SPEC section 7).

    Salesforce: up to ``bulk_threshold`` changed rows go by sObject Collections upsert,
    ``collections_size`` records a call; more go by one Bulk API 2.0 ingest job.  Dataverse:
    UpsertMultiple with ``dataverse_chunk_size`` records a request, falling back to ``$batch``
    (continue on error) for a chunk the CRM refuses as a whole.
    """

    enabled: bool = True
    bulk_threshold: int = Field(default=2000, ge=0)
    collections_size: int = Field(default=200, ge=1, le=200)
    dataverse_chunk_size: int = Field(default=500, ge=100, le=1000)
    bulk_poll_timeout_seconds: float = Field(default=3600.0, gt=0)
    sources: dict[str, WritebackTarget] = Field(default_factory=dict)

    def target(self, source: str) -> WritebackTarget:
        """The settings of ``source`` (defaults when the file says nothing about it)."""
        return self.sources.get(source, WritebackTarget())


# --------------------------------------------------------------------------- schedule


class ScheduleConfig(Model):
    """Cron expressions of the jobs ``kamsync schedule`` runs, and how it runs them."""

    sync: Cron | None = None
    analyze: Cron | None = None
    writeback: Cron | None = None
    run: Cron | None = None
    timezone: str = "UTC"
    misfire_grace_seconds: PositiveInt = 300

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone") from None
        return value

    def jobs(self) -> dict[str, str]:
        """Job name -> cron expression, for the jobs that are scheduled."""
        return {job: cron for job in SCHEDULE_JOBS if (cron := getattr(self, job)) is not None}


# --------------------------------------------------------------------------- root


class KamsyncConfig(Model):
    """The whole configuration file."""

    warehouse: WarehouseConfig = WarehouseConfig()
    sources: Annotated[tuple[Source, ...], BeforeValidator(_list_to_tuple)] = ()
    regions: dict[str, str] = Field(default_factory=dict)
    analytics: AnalyticsConfig = AnalyticsConfig()
    writeback: WritebackConfig = WritebackConfig()
    schedule: ScheduleConfig = ScheduleConfig()

    @field_validator("sources", mode="before")
    @classmethod
    def _unique_names(cls, value: Any) -> Any:
        if isinstance(value, list):
            seen: dict[str, int] = {}
            for index, item in enumerate(value):
                name = item.get("name") if isinstance(item, dict) else None
                if isinstance(name, str) and name in seen:
                    raise ValueError(
                        f"source name {name!r} is used twice (sources[{seen[name]}] and "
                        f"sources[{index}])"
                    )
                if isinstance(name, str):
                    seen[name] = index
        return value

    def source(self, name: str) -> SalesforceSource | DynamicsSource:
        """The source called ``name``; KeyError when there is none."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)
