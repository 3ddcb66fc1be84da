"""``kamsync metadata salesforce --out DIR`` and ``kamsync metadata dynamics [--apply]``.

Both come from :mod:`writeback.metadata`, the one definition of the score objects.

* ``salesforce --out DIR`` writes a Salesforce DX project (the custom object, its fields, the
  unique external id, the lookup to Account, a least-privilege permission set for the
  integration user and a read-only one for key account managers) for an admin to deploy, e.g.
  with ``sf project deploy start --source-dir DIR/force-app``.  It needs no configuration.
* ``dynamics`` prints the metadata API requests that create the table, its columns, the
  alternate key and the lookup; ``--apply`` makes the missing ones against the configured
  Dataverse source (``--source`` when there are several), leaving existing ones alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from config.errors import UsageError
from config.model import DynamicsSource
from writeback.metadata import apply_dataverse, dataverse_requests, write_salesforce_dx

if TYPE_CHECKING:
    from sync.cli import App


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``metadata salesforce`` and ``metadata dynamics``."""
    parser = commands.add_parser(
        "metadata", help="the custom score objects an admin deploys (Salesforce DX, Dataverse)"
    )
    crms = parser.add_subparsers(dest="metadata_crm", metavar="CRM")
    crms.required = True
    salesforce = crms.add_parser(
        "salesforce",
        help="write Salesforce DX source for KAM_Account_Score__c and its permission sets",
    )
    salesforce.add_argument("--out", metavar="DIR", type=Path, required=True)
    salesforce.set_defaults(handler=salesforce_metadata)
    dynamics = crms.add_parser(
        "dynamics", help="print (or --apply) the Dataverse table kam_accountscore"
    )
    dynamics.add_argument(
        "--apply", action="store_true", help="create what is missing through the metadata API"
    )
    dynamics.add_argument("--source", metavar="NAME", help="the Dataverse source (if several)")
    dynamics.set_defaults(handler=dynamics_metadata)


def salesforce_metadata(app: App) -> int:
    """Write the DX project."""
    out: Path = app.args.out
    written = write_salesforce_dx(out)
    console = Console()
    for path in written:
        console.print(str(path), highlight=False)
    console.print(
        f"{len(written)} files written. Deploy: sf project deploy start --source-dir "
        f"{out / 'force-app'} --target-org <alias>; then assign the permission set "
        "KAM_Sync_Integration to the integration user (and KAM_Score_Reader to key account "
        "managers).",
        highlight=False,
    )
    return 0


def dynamics_metadata(app: App) -> int:
    """Print the requests, or apply them to the configured Dataverse source."""
    console = Console()
    if not app.args.apply:
        document = [
            {"what": r.what, "name": r.name, "method": r.method, "path": r.path, "body": r.body}
            for r in dataverse_requests()
        ]
        console.print_json(json.dumps(document))
        return 0
    source = _dynamics_source(app)
    from writeback.dataverse import metadata_api

    with metadata_api(source) as api:
        report = apply_dataverse(
            api, on_step=lambda label: console.print(f"created {label}", highlight=False)
        )
    for label in report.existing:
        console.print(f"exists  {label}", style="dim", highlight=False)
    console.print(
        f"{source.name}: {len(report.created)} created, {len(report.existing)} already there",
        highlight=False,
    )
    return 0


def _dynamics_source(app: App) -> DynamicsSource:
    sources = [s for s in app.config.sources if isinstance(s, DynamicsSource)]
    wanted: str | None = app.args.source
    if wanted is not None:
        sources = [s for s in sources if s.name == wanted]
        if not sources:
            raise UsageError(f"no Dataverse source named {wanted!r} in {app.config_path}")
    if not sources:
        raise UsageError(f'{app.config_path} has no Dataverse (kind = "dynamics") source')
    if len(sources) > 1:
        names = ", ".join(s.name for s in sources)
        raise UsageError(f"several Dataverse sources ({names}): choose one with --source")
    return sources[0]
