"""The [writeback] section: modes and names must fit the source's CRM and be kamsync's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_config
from config.errors import ConfigError
from tests.unit.test_config import BASE


def _load(tmp_path: Path, extra: str) -> None:
    path = tmp_path / "kamsync.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    load_config(path)


@pytest.mark.parametrize(
    ("extra", "key", "words"),
    [
        (
            "[writeback.sources.sf_emea]\nmode = 'upsert_multiple'\n",
            "writeback.sources.sf_emea.mode",
            "'upsert_multiple' is not a salesforce write-back mode; use one of auto, bulk, collections",
        ),
        (
            "[writeback.sources.d365_apac]\nmode = 'bulk'\n",
            "writeback.sources.d365_apac.mode",
            "use one of auto, batch, upsert_multiple",
        ),
        (
            "[writeback.sources.sf_emea]\nobject = 'Account'\n",
            "writeback.sources.sf_emea.object",
            "'Account' is not one of kamsync's own custom names",
        ),
        (
            "[writeback.sources.sf_emea]\nobject = 'kam_accountscore'\n",
            "writeback.sources.sf_emea.object",
            "is not a salesforce name kamsync owns; sf_emea needs KAM_*__c",
        ),
        (
            "[writeback.sources.d365_apac.fields]\ntier = 'KAM_Tier__c'\n",
            "writeback.sources.d365_apac.fields.tier",
            "d365_apac needs kam_*",
        ),
        (
            "[writeback.sources.sf_emea.fields]\ntier = 'Rating'\n",
            "writeback.sources.sf_emea.fields.tier",
            "'Rating' is not one of kamsync's own custom names",
        ),
        ("[writeback]\ncollections_size = 201\n", "writeback.collections_size", "200"),
        ("[writeback]\ndataverse_chunk_size = 50\n", "writeback.dataverse_chunk_size", "100"),
    ],
)
def test_bad_writeback_settings_are_named(
    tmp_path: Path, secret_env: dict[str, str], extra: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, "\n" + extra)

    text = str(caught.value)
    assert f"kamsync.toml: {key}: " in text
    assert words in text


def test_good_writeback_settings_load(tmp_path: Path, secret_env: dict[str, str]) -> None:
    path = tmp_path / "kamsync.toml"
    path.write_text(
        BASE
        + "\n[writeback]\nbulk_threshold = 5000\n"
        + "[writeback.sources.sf_emea]\nmode = 'bulk'\nobject = 'KAM_Score__c'\n"
        + "[writeback.sources.sf_emea.fields]\ntier = 'KAM_Segment__c'\n"
        + "[writeback.sources.d365_apac]\nenabled = false\nmode = 'batch'\n",
        encoding="utf-8",
    )
    config = load_config(path)

    assert config.writeback.target("sf_emea").object == "KAM_Score__c"
    assert config.writeback.target("sf_emea").fields == {"tier": "KAM_Segment__c"}
    assert config.writeback.target("d365_apac").enabled is False
    assert config.writeback.target("unlisted").mode == "auto"
