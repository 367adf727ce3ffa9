"""Deals as Salesforce has them: opportunity record types are pipelines, StageName is the stage.

An org without record types has one implicit pipeline, the master record type
(012000000000000AAA), whose opportunities carry no RecordTypeId; so do opportunities created
before record types existed. The connector speaks of them with RecordTypeId None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from connectors.base import Pipeline, Stage
from connectors.salesforce import defaults

if TYPE_CHECKING:
    from connectors.salesforce.connector import SalesforceConnector

MIRROR_PREFIX = "Salesforce - "


def pipelines(connector: SalesforceConnector) -> list[Pipeline]:
    """One pipeline per active Opportunity record type (its sales process's stages), or a single
    "Standard pipeline" with every active stage when the org has no record types."""
    client = connector.client
    stage_rows = client.query_all(
        "SELECT ApiName, MasterLabel, IsClosed, IsWon, SortOrder FROM OpportunityStage "
        "WHERE IsActive = true ORDER BY SortOrder"
    )
    stages = [
        Stage(r["ApiName"], r["MasterLabel"], r.get("SortOrder") or i, bool(r["IsClosed"]), bool(r["IsWon"]))
        for i, r in enumerate(stage_rows)
    ]
    record_types = client.query_all(
        "SELECT Id, Name FROM RecordType WHERE SobjectType = 'Opportunity' AND IsActive = true ORDER BY Name"
    )
    if not record_types:
        return [Pipeline(defaults.MASTER_RECORD_TYPE_ID, defaults.STANDARD_PIPELINE_LABEL, tuple(stages))]
    result = []
    for rt in record_types:
        values = client.get(f"ui-api/object-info/Opportunity/picklist-values/{rt['Id']}/StageName")
        allowed = {v["value"] for v in (values.get("values", []) if isinstance(values, dict) else [])}
        result.append(Pipeline(rt["Id"], rt["Name"], tuple(s for s in stages if s.id in allowed)))
    return result


def mirrored_label(pipeline: Pipeline, all_pipelines: Sequence[Pipeline]) -> str:
    """The mirrored pipeline's label: "Salesforce - <record type id>", or "Salesforce - Standard
    pipeline" when the org has a single pipeline (no record types, or only one): F6.2."""
    if len(all_pipelines) <= 1:
        return MIRROR_PREFIX + defaults.STANDARD_PIPELINE_LABEL
    return MIRROR_PREFIX + pipeline.id


def has_record_types(described: Mapping[str, Any]) -> bool:
    """Whether a describe() of Opportunity lists a record type besides the master."""
    infos = described.get("recordTypeInfos") or []
    return any(not info.get("master") for info in infos if isinstance(info, dict))


def incoming_record_type(values: dict[str, Any]) -> None:
    """Every opportunity read carries RecordTypeId; None stands for the master record type."""
    if values.get("RecordTypeId") == defaults.MASTER_RECORD_TYPE_ID:
        values["RecordTypeId"] = None
    values.setdefault("RecordTypeId", None)


def outgoing_record_type(values: Mapping[str, Any], meta: Mapping[str, dict]) -> dict[str, Any]:
    """The master record type as Salesforce takes it: no RecordTypeId at all in an org without
    record types (the field does not exist there), null in an org with them."""
    out = dict(values)
    if "RecordTypeId" in out and out["RecordTypeId"] in (None, "", defaults.MASTER_RECORD_TYPE_ID):
        if "RecordTypeId" in meta:
            out["RecordTypeId"] = None
        else:
            del out["RecordTypeId"]
    return out
