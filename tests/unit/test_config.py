"""Configuration: the example validates; every kind of mistake is named with file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_config
from config.errors import ConfigError
from config.model import SalesforceSource
from sync.cli import main

BASE = """
[warehouse]
path = "kamsync.duckdb"

[[sources]]
name = "sf_emea"
kind = "salesforce"
instance_url = "https://acme.my.salesforce.com"
client_id_env = "SF_CLIENT_ID"
client_secret_env = "SF_CLIENT_SECRET"

[[sources]]
name = "d365_apac"
kind = "dynamics"
url = "https://acme.crm4.dynamics.com"
authority = "https://login.microsoftonline.com/tenant"
client_id_env = "D365_CLIENT_ID"
client_secret_env = "D365_CLIENT_SECRET"
"""


def _replace(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


# (case id, config text, key path named, words of the reason)
BAD_CONFIGS: list[tuple[str, str, str, str]] = [
    (
        "unknown-section",
        BASE + "\n[warehous]\npath = 'x'\n",
        "warehous",
        "unknown key (did you mean 'warehouse'?)",
    ),
    (
        "budget-on-dynamics",
        _replace(
            'client_id_env = "D365_CLIENT_ID"',
            'client_id_env = "D365_CLIENT_ID"\napi_budget_percent = 80',
        ),
        "sources[1].api_budget_percent",
        "applies to Salesforce sources only: Dataverse has no daily request counter",
    ),
    (
        "page-size-on-salesforce",
        _replace(
            'client_id_env = "SF_CLIENT_ID"', 'client_id_env = "SF_CLIENT_ID"\npage_size = 500'
        ),
        "sources[0].page_size",
        "applies to Dynamics sources only",
    ),
    (
        "unknown-source-key",
        _replace('instance_url = "', 'instance_ur = "'),
        "sources[0].instance_ur",
        "did you mean 'instance_url'?",
    ),
    (
        "wrong-type-number",
        _replace(
            'client_id_env = "SF_CLIENT_ID"',
            'client_id_env = "SF_CLIENT_ID"\napi_budget_percent = "80"',
        ),
        "sources[0].api_budget_percent",
        "must be a number, got a string",
    ),
    (
        "wrong-type-list",
        _replace(
            'client_id_env = "SF_CLIENT_ID"', 'client_id_env = "SF_CLIENT_ID"\nobjects = "Account"'
        ),
        "sources[0].objects",
        "must be a list",
    ),
    (
        "bad-source-name",
        _replace('name = "sf_emea"', 'name = "SF-EMEA"'),
        "sources[0].name",
        "not a valid source name",
    ),
    (
        "duplicate-source-name",
        _replace('name = "d365_apac"', 'name = "sf_emea"'),
        "sources",
        "source name 'sf_emea' is used twice",
    ),
    (
        "unknown-kind",
        _replace('kind = "dynamics"', 'kind = "hubspot"'),
        "sources[1].kind",
        "must be one of salesforce, dynamics; got 'hubspot'",
    ),
    (
        "unknown-auth",
        _replace(
            'client_id_env = "SF_CLIENT_ID"', 'client_id_env = "SF_CLIENT_ID"\nauth = "oauth"'
        ),
        "sources[0].auth",
        "got 'oauth'",
    ),
    (
        "env-not-set",
        _replace(
            'client_secret_env = "SF_CLIENT_SECRET"', 'client_secret_env = "KAMSYNC_TEST_UNSET_VAR"'
        ),
        "sources[0].client_secret_env",
        "environment variable KAMSYNC_TEST_UNSET_VAR is not set",
    ),
    (
        "secret-instead-of-env-name",
        _replace(
            'client_secret_env = "SF_CLIENT_SECRET"', 'client_secret_env = "pasted-s3cret!value"'
        ),
        "sources[0].client_secret_env",
        "must be the name of an environment variable",
    ),
    (
        "file-missing",
        _replace(
            'client_id_env = "SF_CLIENT_ID"',
            'client_id_env = "SF_CLIENT_ID"\nca_bundle = "no-such-ca.pem"',
        ),
        "sources[0].ca_bundle",
        "does not exist",
    ),
    (
        "jwt-needs-key",
        _replace(
            'client_id_env = "SF_CLIENT_ID"',
            'client_id_env = "SF_CLIENT_ID"\nauth = "jwt"\nusername = "int@acme.com"',
        ),
        "sources[0]",
        "auth = 'jwt' needs private_key_file",
    ),
    (
        "dynamics-missing-url",
        _replace('url = "https://acme.crm4.dynamics.com"\n', ""),
        "sources[1].url",
        "is required",
    ),
    (
        "http-not-https",
        _replace(
            'instance_url = "https://acme.my.salesforce.com"',
            'instance_url = "http://acme.my.salesforce.com"',
        ),
        "sources[0].instance_url",
        "must be an https:// URL",
    ),
    (
        "budget-out-of-range",
        _replace(
            'client_id_env = "SF_CLIENT_ID"',
            'client_id_env = "SF_CLIENT_ID"\napi_budget_percent = 150',
        ),
        "sources[0].api_budget_percent",
        "less than or equal to 100",
    ),
    (
        "api-version-form",
        _replace(
            'client_id_env = "SF_CLIENT_ID"', 'client_id_env = "SF_CLIENT_ID"\napi_version = "62"'
        ),
        "sources[0].api_version",
        "does not have the expected form",
    ),
    (
        "triage-weights-sum",
        BASE + "\n[analytics.key_accounts.triage_weights]\nmarket_position = 0.5\n",
        "analytics.key_accounts.triage_weights",
        "triage weights must sum to 1, they sum to 1.2000",
    ),
    (
        "health-weights-sum",
        BASE + "\n[analytics.health.weights]\nwin_rate = 0.0\n",
        "analytics.health.weights",
        "health weights must sum to 1, they sum to 0.9000",
    ),
    (
        "pareto-order",
        BASE + "\n[analytics.key_accounts]\npareto_a = 0.97\n",
        "analytics.key_accounts",
        "pareto_a must be below pareto_b",
    ),
    ("as-of-type", BASE + "\n[analytics]\nas_of = 20260101\n", "analytics.as_of", "got an integer"),
    (
        "bad-cron",
        BASE + "\n[schedule]\nsync = '*/61 * * * *'\n",
        "schedule.sync",
        "not a valid cron expression",
    ),
    (
        "bad-timezone",
        BASE + "\n[schedule]\ntimezone = 'Mars/Olympus'\n",
        "schedule.timezone",
        "not a known time zone",
    ),
    (
        "unknown-schedule-job",
        BASE + "\n[schedule]\nsnyc = '0 * * * *'\n",
        "schedule.snyc",
        "did you mean 'sync'?",
    ),
    (
        "writeback-unknown-source",
        BASE + "\n[writeback.sources.sf_emaa]\nenabled = true\n",
        "writeback.sources.sf_emaa",
        "no source named 'sf_emaa' is configured (did you mean 'sf_emea'?)",
    ),
    (
        "warehouse-name-collides",
        _replace('path = "kamsync.duckdb"', 'path = "data/kam.duckdb"'),
        "warehouse.path",
        "makes DuckDB call its catalog 'kam', the name of a kamsync schema",
    ),
    ("toml-syntax", BASE + "\n[analytics\n", "", "not valid TOML"),
]


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [pytest.param(text, key, reason, id=case) for case, text, key, reason in BAD_CONFIGS],
)
def test_bad_configuration_exits_2_naming_file_key_and_problem(
    tmp_path: Path,
    secret_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    text: str,
    key: str,
    reason: str,
) -> None:
    path = tmp_path / "kamsync.toml"
    path.write_text(text, encoding="utf-8")

    code = main(["--config", str(path), "config", "check"])

    out, err = capsys.readouterr()
    assert code == 2
    assert str(path) in err
    assert f"{path}: {key}:" in err if key else f"{path}:" in err
    assert reason in err
    for secret in secret_env.values():
        assert secret not in out + err
    assert "pasted-s3cret!value" not in err


def test_every_problem_is_reported_at_once(tmp_path: Path, secret_env: dict[str, str]) -> None:
    text = (
        _replace('name = "sf_emea"', 'name = "Bad Name"').replace(
            'kind = "dynamics"', 'kind = "dynamix"'
        )
        + "\n[schedule]\nsync = 'never'\n"
    )
    path = tmp_path / "kamsync.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    keys = {problem.key for problem in caught.value.problems}
    assert keys == {"sources[0].name", "sources[1].kind", "schedule.sync"}


def test_example_config_validates(
    example_config: Path, secret_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--config", str(example_config), "config", "check"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert 'name = "sf_emea"' in out
    assert "# sf_emea.client_secret_env: $SF_CLIENT_SECRET = ****" in out
    for secret in secret_env.values():
        assert secret not in out + err


def test_defaults_follow_the_spec(example_config: Path, secret_env: dict[str, str]) -> None:
    config = load_config(example_config)
    analytics = config.analytics
    assert (analytics.ttm_days, analytics.engagement_days, analytics.relationship_days) == (
        365,
        90,
        180,
    )
    assert analytics.health.green == 70 and analytics.health.amber == 40
    assert analytics.call_targets.key == 4 and analytics.call_targets.growth == 2
    assert analytics.call_targets.maintain == pytest.approx(1 / 3)
    assert analytics.wallet_quantile == 0.9 and analytics.peer_min == 20
    salesforce = config.sources[0]
    assert isinstance(salesforce, SalesforceSource) and salesforce.api_budget_percent == 80
    # relative paths resolve against the configuration file's folder
    assert config.warehouse.path == example_config.parent / "kamsync.duckdb"


def test_config_path_comes_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("[warehouse]\npath = 'w.duckdb'\n", encoding="utf-8")
    monkeypatch.setenv("KAMSYNC_CONFIG", str(path))

    assert main(["config", "check"]) == 0
    assert str(tmp_path / "w.duckdb") in capsys.readouterr().out


def test_missing_config_file_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.toml"

    assert main(["--config", str(missing), "config", "check"]) == 2
    assert f"{missing}: file not found" in capsys.readouterr().err


def test_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.startswith("kamsync ")
