"""writeback.metadata: the DX source parses, holds every payload field, and matches the emulator."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from connectors.emulator.dataverse_model import (
    SCORE_DATE_ONLY,
    SCORE_ENTITY_SET,
    SCORE_KEY_SCHEMA_NAME,
    score_table_definition,
)
from connectors.emulator.sfschema import SCORE_FIELDS, SCORE_OBJECT
from writeback import metadata
from writeback.metadata import FIELDS, SF_OBJECT, write_salesforce_dx

NS = {"sf": metadata.SF_NAMESPACE}
SF_TYPES = {  # DX field type -> describe type
    "Text": "string",
    "LongTextArea": "textarea",
    "Number": "double",
    "Currency": "currency",
    "Percent": "percent",
    "Date": "date",
    "DateTime": "datetime",
    "Picklist": "picklist",
    "Lookup": "reference",
}


def _parse(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag.startswith("{" + metadata.SF_NAMESPACE + "}")
    return root


def _text(element: ET.Element, tag: str) -> str | None:
    found = element.find(f"sf:{tag}", NS)
    return found.text if found is not None else None


def test_dx_source_is_well_formed_and_has_every_payload_field(tmp_path: Path) -> None:
    written = write_salesforce_dx(tmp_path)

    for path in written:
        if path.suffix == ".xml":
            _parse(path)
    project = json.loads((tmp_path / "sfdx-project.json").read_text())
    assert project["packageDirectories"] == [{"path": "force-app", "default": True}]
    obj_dir = tmp_path / "force-app/main/default/objects" / SF_OBJECT
    obj = _parse(obj_dir / f"{SF_OBJECT}.object-meta.xml")
    assert _text(obj, "label") == "KAM Account Score"
    assert _text(obj, "deploymentStatus") == "Deployed"
    name_field = obj.find("sf:nameField", NS)
    assert name_field is not None and _text(name_field, "type") == "AutoNumber"
    fields = {
        _text(f, "fullName"): f for f in (_parse(p) for p in (obj_dir / "fields").glob("*.xml"))
    }
    assert set(fields) == {f.salesforce.name for f in FIELDS}
    for score in FIELDS:
        xml = fields[score.salesforce.name]
        assert _text(xml, "type") == score.salesforce.type
        assert all(name.startswith("KAM_") and name.endswith("__c") for name in fields if name)
    ext = fields["KAM_Ext_Id__c"]
    assert (_text(ext, "externalId"), _text(ext, "unique"), _text(ext, "required")) == (
        "true",
        "true",
        "true",
    )
    lookup = fields["KAM_Account__c"]
    assert (_text(lookup, "referenceTo"), _text(lookup, "deleteConstraint")) == (
        "Account",
        "SetNull",
    )
    tier_values = [
        _text(v, "fullName")
        for v in fields["KAM_Tier__c"].findall("sf:valueSet/sf:valueSetDefinition/sf:value", NS)
    ]
    assert tier_values == ["key", "growth", "maintain", "non_key"]
    assert _text(fields["KAM_Wallet_Share__c"], "scale") == "2"


def test_integration_permission_set_is_least_privilege(tmp_path: Path) -> None:
    write_salesforce_dx(tmp_path)
    root = _parse(
        tmp_path
        / "force-app/main/default/permissionsets/KAM_Sync_Integration.permissionset-meta.xml"
    )

    objects = {
        _text(o, "object"): {
            flag: _text(o, flag)
            for flag in (
                "allowCreate",
                "allowDelete",
                "allowEdit",
                "allowRead",
                "modifyAllRecords",
                "viewAllRecords",
            )
        }
        for o in root.findall("sf:objectPermissions", NS)
    }
    assert objects == {
        "Account": {
            "allowCreate": "false",
            "allowDelete": "false",
            "allowEdit": "false",
            "allowRead": "true",
            "modifyAllRecords": "false",
            "viewAllRecords": "false",
        },
        SF_OBJECT: {
            "allowCreate": "true",
            "allowDelete": "false",
            "allowEdit": "true",
            "allowRead": "true",
            "modifyAllRecords": "false",
            "viewAllRecords": "false",
        },
    }
    fields = {
        _text(f, "field"): _text(f, "editable") for f in root.findall("sf:fieldPermissions", NS)
    }
    optional = {f"{SF_OBJECT}.{f.salesforce.name}" for f in FIELDS if not f.salesforce.required}
    assert fields == dict.fromkeys(optional, "true")
    assert root.find("sf:userPermissions", NS) is None


def test_package_manifest_lists_every_component(tmp_path: Path) -> None:
    write_salesforce_dx(tmp_path)
    root = _parse(tmp_path / "manifest/package.xml")
    members = {
        _text(t, "name"): [m.text for m in t.findall("sf:members", NS)]
        for t in root.findall("sf:types", NS)
    }
    assert members["CustomObject"] == [SF_OBJECT]
    assert len(members["CustomField"]) == len(FIELDS)
    assert members["PermissionSet"] == ["KAM_Sync_Integration", "KAM_Score_Reader"]


def test_emulator_salesforce_score_object_has_exactly_the_defined_fields() -> None:
    emulated = {f.name: f for f in SCORE_FIELDS}
    assert {f.name for f in SCORE_OBJECT.fields if f.custom} == set(emulated)
    defined = {score.salesforce.name: score for score in FIELDS}
    assert set(emulated) == set(defined)
    for name, score in defined.items():
        spec, field = score.salesforce, emulated[name]
        assert field.type == SF_TYPES[spec.type], name
        assert field.label == score.label, name
        assert field.nullable is not spec.required, name
        assert (field.external_id, field.unique) == (spec.external_id, spec.unique), name
        assert field.reference_to == ((spec.reference_to,) if spec.reference_to else ()), name
        assert tuple(field.options) == spec.values, name
        if spec.type in ("Text", "LongTextArea"):
            assert field.length == spec.length, name


def test_emulator_dataverse_score_table_has_exactly_the_defined_columns() -> None:
    table = score_table_definition()
    emulated = {f.name: f for f in table.fields if f.custom}
    defined = {score.dataverse.name: score.dataverse for score in FIELDS}
    defined[metadata.DV_PRIMARY_NAME] = metadata.DV_PRIMARY_NAME_COLUMN
    assert set(emulated) == set(defined)
    assert table.name == metadata.DV_TABLE
    assert SCORE_ENTITY_SET == metadata.DV_ENTITY_SET
    assert SCORE_KEY_SCHEMA_NAME == metadata.DV_KEY_SCHEMA
    assert {n for n, c in defined.items() if c.date_only} == set(SCORE_DATE_ONLY)
    for name, column in defined.items():
        field = emulated[name]
        assert field.type == column.type, name
        assert field.length == column.max_length, name
        assert field.reference_to == ((column.reference_to,) if column.reference_to else ()), name
    assert emulated[metadata.EXTERNAL_ID.dataverse.name].external_id


def test_dataverse_requests_create_every_column_key_and_lookup() -> None:
    requests = metadata.dataverse_requests()

    assert [r.what for r in requests[:1]] == ["table"]
    created = {r.name for r in requests if r.what == "column"}
    assert created == {f.dataverse.name for f in FIELDS if f.dataverse.type != "Lookup"}
    key = next(r for r in requests if r.what == "key")
    assert key.body["KeyAttributes"] == ["kam_extid"]
    lookup = next(r for r in requests if r.what == "lookup")
    assert lookup.body["ReferencedEntity"] == "account"
    assert lookup.body["Lookup"]["SchemaName"].lower() == "kam_accountid"
    assert all(r.body.get("SchemaName", "").lower().startswith("kam_") for r in requests)
