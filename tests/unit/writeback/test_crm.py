"""writeback.crm: Bulk jobs stay below the upload limit and cover every record once."""

from __future__ import annotations

import pytest

from writeback import crm
from writeback.records import Change, DesiredRecord


def _change(n: int) -> Change:
    values = {"KAM_Ext_Id__c": f"sf:{n}", "KAM_Explanation__c": "x" * 90}
    return Change(DesiredRecord(f"sf:{n}", f"sf:{n}", f"001{n}", values, "h"), None)


def test_bulk_jobs_split_by_size_and_keep_order(monkeypatch: pytest.MonkeyPatch) -> None:
    changes = [_change(n) for n in range(25)]
    monkeypatch.setattr(crm, "BULK_JOB_BYTES", 1000)

    jobs = list(crm._bulk_jobs(changes))

    assert len(jobs) > 1
    assert [c for job in jobs for c in job] == changes
    assert all(len(job) >= 1 for job in jobs)


def test_everything_fits_one_job_below_the_limit() -> None:
    changes = [_change(n) for n in range(1000)]

    assert [len(job) for job in crm._bulk_jobs(changes)] == [1000]
