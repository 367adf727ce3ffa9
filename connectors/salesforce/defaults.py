"""Salesforce's side of the default mappings, keyed by the canonical names shared with HubSpot."""

from __future__ import annotations

from pathlib import Path

from connectors.base import COMPANIES, CONTACTS, DEALS, DefaultField, FieldType

# canonical object type -> Salesforce sObject
OBJECTS = {CONTACTS: "Contact", COMPANIES: "Account", DEALS: "Opportunity"}
TO_CANONICAL = {"Contact": CONTACTS, "Lead": CONTACTS, "Account": COMPANIES, "Opportunity": DEALS}

DEFAULT_FIELDS: dict[str, list[DefaultField]] = {
    CONTACTS: [
        DefaultField("email", "Email"),
        DefaultField("first_name", "FirstName"),
        DefaultField("last_name", "LastName"),
        DefaultField("phone", "Phone"),
        DefaultField("job_title", "Title"),
        # company_name: a Contact has no company-name field (the company is the Account), so none.
        DefaultField("owner", "OwnerId"),
    ],
    COMPANIES: [
        DefaultField("name", "Name"),
        DefaultField("domain", "Website"),
        DefaultField("phone", "Phone"),
        DefaultField("industry", "Industry"),
        DefaultField("city", "BillingCity"),
        DefaultField("owner", "OwnerId"),
    ],
    DEALS: [
        DefaultField("deal_name", "Name"),
        DefaultField("amount", "Amount"),
        DefaultField("close_date", "CloseDate"),
        DefaultField("pipeline", "RecordTypeId"),  # pipeline and stage: translated by the pipeline mapping
        DefaultField("stage", "StageName"),
        DefaultField("deal_type", "Type"),
        DefaultField("description", "Description"),
        DefaultField("owner", "OwnerId"),
    ],
}

# With `contacts_object: "Lead"`, contacts are Leads, whose company is a text field, not an Account.
LEAD_DEFAULT_FIELDS = [
    *DEFAULT_FIELDS[CONTACTS],
    DefaultField("company_name", "Company"),
]

# describe() type -> the engine's field type
FIELD_TYPES = {
    "boolean": FieldType.BOOL,
    "int": FieldType.NUMBER,
    "double": FieldType.NUMBER,
    "currency": FieldType.NUMBER,
    "percent": FieldType.NUMBER,
    "long": FieldType.NUMBER,
    "date": FieldType.DATE,
    "datetime": FieldType.DATETIME,
    "picklist": FieldType.ENUMERATION,
    "multipicklist": FieldType.ENUMERATION,
    "combobox": FieldType.ENUMERATION,
    "reference": FieldType.REFERENCE,
}
# Compound and binary fields cannot be selected alongside their components or synced as values.
UNSYNCABLE_TYPES = {"address", "location", "base64", "anyType"}

MASTER_RECORD_TYPE_ID = "012000000000000AAA"
STANDARD_PIPELINE_LABEL = "Standard pipeline"

# Standard option maps of the default mappings between enumerations (reviewed like code; see
# connectors/base.load_option_maps and syncrules.engine.mappings.standard_value_map).
OPTION_MAPS_FILE = str(Path(__file__).with_name("option_maps.json"))
