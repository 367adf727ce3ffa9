"""The sObjects the sandbox knows, as plain data, and their describe() results.

Picklists are either static (LeadSource, Industry, ...) or come from the org's own records
(StageName from OpportunityStage, CurrencyIsoCode from the org's currencies). Field-level
security (hidden and read-only fields) and object visibility come from `Org.restrictions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MASTER_RECORD_TYPE_ID = "012000000000000AAA"

STRINGY = {"id", "string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "reference"}
NUMERIC = {"int", "double", "currency", "percent"}


@dataclass(frozen=True)
class F:
    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    defaulted: bool = False
    unique: bool = False
    external_id: bool = False
    reference_to: str = ""
    relationship: str = ""
    picklist: tuple[str, ...] | str = ()  # values, or "stages" / "currencies" for org data
    restricted: bool = False

    @property
    def required(self) -> bool:
        return self.createable and not self.nillable and not self.defaulted


def system(name: str, ftype: str, label: str) -> F:
    return F(
        name, ftype, label, nillable=ftype == "reference", createable=False, updateable=False, defaulted=True
    )


@dataclass(frozen=True)
class SObject:
    name: str
    label: str
    prefix: str
    fields: dict[str, F] = field(default_factory=dict)
    createable: bool = True
    name_field: str = "Name"


INDUSTRIES = (
    "Agriculture",
    "Banking",
    "Communications",
    "Consulting",
    "Education",
    "Energy",
    "Finance",
    "Healthcare",
    "Manufacturing",
    "Media",
    "Retail",
    "Technology",
    "Other",
)
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
OPP_TYPES = (
    "Existing Customer - Upgrade",
    "Existing Customer - Replacement",
    "Existing Customer - Downgrade",
    "New Customer",
)
ROLES = (
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
)
LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)


def _object(
    name: str,
    label: str,
    prefix: str,
    *fields: F,
    createable: bool = True,
    owned: bool = True,
    name_field: str = "Name",
) -> SObject:
    common = [
        F("Id", "id", f"{label} ID", 18, nillable=False, createable=False, updateable=False, defaulted=True),
        system("IsDeleted", "boolean", "Deleted"),
        system("CreatedDate", "datetime", "Created Date"),
        system("LastModifiedDate", "datetime", "Last Modified Date"),
        system("SystemModstamp", "datetime", "System Modstamp"),
    ]
    if owned:
        common.append(
            F(
                "OwnerId",
                "reference",
                "Owner ID",
                18,
                nillable=False,
                defaulted=True,
                reference_to="User",
                relationship="Owner",
            )
        )
    return SObject(name, label, prefix, {f.name: f for f in [*common, *fields]}, createable, name_field)


def _ext_id() -> F:
    return F("External_Id__c", "string", "External Id", 80, unique=True, external_id=True)


OBJECTS: dict[str, SObject] = {
    o.name: o
    for o in [
        _object(
            "Contact",
            "Contact",
            "003",
            F("FirstName", "string", "First Name", 40),
            F("LastName", "string", "Last Name", 80, nillable=False),
            F("Name", "string", "Full Name", 121, createable=False, updateable=False),
            F("Email", "email", "Email", 80),
            F("Phone", "phone", "Business Phone", 40),
            F("Title", "string", "Title", 128),
            F("AccountId", "reference", "Account ID", 18, reference_to="Account", relationship="Account"),
            F("LeadSource", "picklist", "Lead Source", 255, picklist=LEAD_SOURCES),
            F("MailingCity", "string", "Mailing City", 40),
            F("Description", "textarea", "Contact Description", 32000),
            _ext_id(),
        ),
        _object(
            "Lead",
            "Lead",
            "00Q",
            F("FirstName", "string", "First Name", 40),
            F("LastName", "string", "Last Name", 80, nillable=False),
            F("Name", "string", "Full Name", 121, createable=False, updateable=False),
            F("Company", "string", "Company", 255, nillable=False),
            F(
                "Status",
                "picklist",
                "Lead Status",
                255,
                nillable=False,
                defaulted=True,
                picklist=LEAD_STATUSES,
                restricted=True,
            ),
            F("Email", "email", "Email", 80),
            F("Phone", "phone", "Phone", 40),
            F("Title", "string", "Title", 128),
            F("Industry", "picklist", "Industry", 255, picklist=INDUSTRIES),
            F("LeadSource", "picklist", "Lead Source", 255, picklist=LEAD_SOURCES),
            system("IsConverted", "boolean", "Converted"),
        ),
        _object(
            "Account",
            "Account",
            "001",
            F("Name", "string", "Account Name", 255, nillable=False),
            F("Website", "url", "Website", 255),
            F("Phone", "phone", "Account Phone", 40),
            F("Industry", "picklist", "Industry", 255, picklist=INDUSTRIES),
            F("Type", "picklist", "Account Type", 255, picklist=("Prospect", "Customer", "Partner", "Other")),
            F("BillingCity", "string", "Billing City", 40),
            F("NumberOfEmployees", "int", "Employees", 8),
            F("AnnualRevenue", "currency", "Annual Revenue", 18),
            F("Description", "textarea", "Account Description", 32000),
            _ext_id(),
        ),
        _object(
            "Opportunity",
            "Opportunity",
            "006",
            F("Name", "string", "Name", 120, nillable=False),
            F("StageName", "picklist", "Stage", 255, nillable=False, picklist="stages", restricted=True),
            F("CloseDate", "date", "Close Date", nillable=False),
            F("Amount", "currency", "Amount", 18),
            F("Probability", "percent", "Probability (%)", 3, defaulted=True),
            F("Type", "picklist", "Opportunity Type", 255, picklist=OPP_TYPES),
            F("LeadSource", "picklist", "Lead Source", 255, picklist=LEAD_SOURCES),
            F("Description", "textarea", "Description", 32000),
            F("AccountId", "reference", "Account ID", 18, reference_to="Account", relationship="Account"),
            F(
                "RecordTypeId",
                "reference",
                "Record Type ID",
                18,
                defaulted=True,
                reference_to="RecordType",
                relationship="RecordType",
            ),
            F(
                "IsClosed",
                "boolean",
                "Closed",
                nillable=False,
                createable=False,
                updateable=False,
                defaulted=True,
            ),
            F("IsWon", "boolean", "Won", nillable=False, createable=False, updateable=False, defaulted=True),
            _ext_id(),
        ),
        _object(
            "OpportunityContactRole",
            "Opportunity Contact Role",
            "00K",
            F(
                "OpportunityId",
                "reference",
                "Opportunity ID",
                18,
                nillable=False,
                updateable=False,
                reference_to="Opportunity",
                relationship="Opportunity",
            ),
            F(
                "ContactId",
                "reference",
                "Contact ID",
                18,
                nillable=False,
                reference_to="Contact",
                relationship="Contact",
            ),
            F("Role", "picklist", "Role", 40, picklist=ROLES),
            F("IsPrimary", "boolean", "Primary", nillable=False, defaulted=True),
            owned=False,
            name_field="Id",
        ),
        _object(
            "OpportunityStage",
            "Opportunity Stage",
            "01J",
            F("ApiName", "string", "Api Name", 255, createable=False, updateable=False),
            F("MasterLabel", "string", "Master Label", 255, createable=False, updateable=False),
            F("IsActive", "boolean", "Active", createable=False, updateable=False),
            F("IsClosed", "boolean", "Closed", createable=False, updateable=False),
            F("IsWon", "boolean", "Won", createable=False, updateable=False),
            F("SortOrder", "int", "Sort Order", 9, createable=False, updateable=False),
            F("DefaultProbability", "percent", "Probability (%)", 3, createable=False, updateable=False),
            F("ForecastCategoryName", "string", "Forecast Category", 40, createable=False, updateable=False),
            createable=False,
            owned=False,
            name_field="MasterLabel",
        ),
        _object(
            "RecordType",
            "Record Type",
            "012",
            F("Name", "string", "Record Type Label", 80, createable=False, updateable=False),
            F("DeveloperName", "string", "Record Type Name", 80, createable=False, updateable=False),
            F("SobjectType", "string", "SObject Type Name", 40, createable=False, updateable=False),
            F(
                "BusinessProcessId",
                "reference",
                "Business Process ID",
                18,
                createable=False,
                updateable=False,
                reference_to="BusinessProcess",
                relationship="BusinessProcess",
            ),
            F("IsActive", "boolean", "Active", createable=False, updateable=False),
            F("Description", "string", "Description", 255, createable=False, updateable=False),
            createable=False,
            owned=False,
        ),
        _object(
            "BusinessProcess",
            "Business Process",
            "019",
            F("Name", "string", "Name", 80, createable=False, updateable=False),
            F("TableEnumOrId", "string", "Entity Enumeration Or ID", 40, createable=False, updateable=False),
            F("IsActive", "boolean", "Active", createable=False, updateable=False),
            createable=False,
            owned=False,
        ),
        _object(
            "User",
            "User",
            "005",
            F("Name", "string", "Full Name", 121, createable=False, updateable=False),
            F("FirstName", "string", "First Name", 40, createable=False, updateable=False),
            F("LastName", "string", "Last Name", 80, createable=False, updateable=False),
            F("Email", "email", "Email", 128, createable=False, updateable=False),
            F("Username", "string", "Username", 80, createable=False, updateable=False),
            F("IsActive", "boolean", "Active", createable=False, updateable=False),
            createable=False,
            owned=False,
        ),
    ]
}

# Types the org's data defines rather than the API caller.
METADATA_TYPES = {"OpportunityStage", "RecordType", "BusinessProcess", "User"}


def visible_object(org, name: str) -> SObject | None:
    """The schema of `name` as the integration user sees it, or None if hidden or unknown."""
    obj = OBJECTS.get(name)
    if obj is None or name in (org.restrictions or {}).get("hidden_objects", []):
        return None
    return obj


def visible_fields(org, obj: SObject) -> dict[str, F]:
    """Fields the user can see, with read-only ones made so, plus CurrencyIsoCode if enabled."""
    restrictions = org.restrictions or {}
    hidden = set(restrictions.get("hidden_fields", []))
    readonly = set(restrictions.get("readonly_fields", []))
    result: dict[str, F] = {}
    for name, f in obj.fields.items():
        key = f"{obj.name}.{name}"
        if key in hidden:
            continue
        if key in readonly:
            f = F(**{**f.__dict__, "createable": False, "updateable": False})
        result[name] = f
    if org.multi_currency and obj.name in {"Contact", "Account", "Opportunity", "Lead"}:
        result["CurrencyIsoCode"] = F(
            "CurrencyIsoCode",
            "picklist",
            "Currency ISO Code",
            3,
            nillable=False,
            defaulted=True,
            picklist="currencies",
            restricted=True,
        )
    return result


def describe_field(f: F, picklist: list[dict]) -> dict:
    return {
        "name": f.name,
        "label": f.label or f.name,
        "type": f.type,
        "length": f.length if f.type in STRINGY else 0,
        "precision": 18 if f.type in {"currency", "double"} else 0,
        "scale": 2 if f.type == "currency" else 0,
        "nillable": f.nillable,
        "createable": f.createable,
        "updateable": f.updateable,
        "defaultedOnCreate": f.defaulted,
        "unique": f.unique,
        "externalId": f.external_id,
        "idLookup": f.name == "Id" or f.external_id or f.name == "Email",
        "calculated": f.name == "Name" and not f.createable,
        "autoNumber": False,
        "custom": f.name.endswith("__c"),
        "referenceTo": [f.reference_to] if f.reference_to else [],
        "relationshipName": f.relationship or None,
        "picklistValues": picklist,
        "restrictedPicklist": f.restricted,
        "dependentPicklist": False,
        "controllerName": None,
        "filterable": True,
        "sortable": f.type != "textarea",
    }


def picklist_entries(values: list[tuple[str, str]], default: str | None = None) -> list[dict]:
    return [
        {"value": v, "label": label, "active": True, "defaultValue": v == default, "validFor": None}
        for v, label in values
    ]
