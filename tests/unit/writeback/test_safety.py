"""The safety check: only kamsync's own custom object and fields, as the CRM's metadata says."""

from __future__ import annotations

from dataclasses import replace

import pytest

from config.errors import UnsafeWriteError
from config.model import WritebackTarget
from connectors.writes import TargetDescription, TargetField
from writeback.payload import TargetMap, target_map
from writeback.safety import check_target, target_problems

SF_TYPES = {
    "text": "string",
    "decimal": "currency",
    "integer": "double",
    "date": "date",
    "datetime": "datetime",
    "reference": "reference",
}
DV_TYPES = {
    "text": "String",
    "decimal": "Decimal",
    "integer": "Integer",
    "date": "DateTime",
    "datetime": "DateTime",
    "reference": "Lookup",
}


def _described(target: TargetMap) -> TargetDescription:
    types = SF_TYPES if target.kind == "salesforce" else DV_TYPES
    fields = {
        f.name: TargetField(
            name=f.name,
            type=types[f.shape.kind],
            custom=True,
            createable=True,
            updateable=True,
            external_id=f.score.role == "external_id",
            reference_to=("Account", "account") if f.score.role == "lookup" else (),
        )
        for f in target.fields
    }
    return TargetDescription(
        target.object,
        custom=True,
        createable=True,
        updateable=True,
        fields=fields,
        alternate_keys=((target.external_id.name,),),
    )


@pytest.fixture(params=["salesforce", "dynamics"])
def target(request: pytest.FixtureRequest) -> TargetMap:
    return target_map(request.param, "src", WritebackTarget())


def test_the_deployed_objects_pass(target: TargetMap) -> None:
    assert target_problems(target, _described(target)) == []


def test_a_standard_object_is_refused_whatever_its_name(target: TargetMap) -> None:
    described = replace(_described(target), custom=False)

    with pytest.raises(UnsafeWriteError, match="is a standard") as caught:
        check_target("src", target, described)

    assert "nothing was sent" in str(caught.value)


def test_every_field_problem_is_named(target: TargetMap) -> None:
    described = _described(target)
    fields = dict(described.fields)
    names = [f.name for f in target.fields]
    gone, standard, readonly, wrong = names[3], names[4], names[5], names[6]
    del fields[gone]
    fields[standard] = replace(fields[standard], custom=False)
    fields[readonly] = replace(fields[readonly], updateable=False)
    fields[wrong] = replace(fields[wrong], type="Boolean")
    lookup = target.lookup.name
    fields[lookup] = replace(fields[lookup], reference_to=("contact", "Contact"))

    problems = target_problems(target, replace(described, fields=fields))

    text = "\n".join(problems)
    assert f"{gone} (" in text and "does not exist" in text
    assert f"{standard} is a standard field" in text
    assert f"{readonly} is not writable" in text
    assert f"{wrong} is of type Boolean" in text
    assert f"{lookup} does not look up" in text
    assert len(problems) == 5


def test_an_external_id_that_is_not_a_key_is_refused(target: TargetMap) -> None:
    described = _described(target)
    ext = target.external_id.name
    fields = dict(described.fields)
    fields[ext] = replace(fields[ext], external_id=False)

    problems = target_problems(target, replace(described, fields=fields, alternate_keys=()))

    assert problems == [
        f"{ext} is not "
        + ("an external id" if target.kind == "salesforce" else "an alternate key")
        + f" of {target.object}"
    ]


def test_a_missing_object_says_how_to_deploy_it(target: TargetMap) -> None:
    (problem,) = target_problems(target, None)

    assert "does not exist" in problem
    assert "kamsync metadata" in problem


def test_names_that_are_not_kamsyncs_are_refused_before_looking() -> None:
    target = target_map("salesforce", "src", WritebackTarget())
    foreign = replace(target, object="Account")

    assert target_problems(foreign, _described(target)) == [
        "Account is not one of kamsync's own custom objects"
    ]
