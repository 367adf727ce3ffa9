"""The sandbox's fixed CRM schema: object types, built-in properties, the default deal
pipeline and association type ids (reference: api-contracts.md 1.1, 1.8, 1.9, 1.10)."""

from __future__ import annotations

OBJECT_TYPES = {
    # path name -> (objectTypeId, webhook subscription prefix, last-modified property)
    "contacts": ("0-1", "contact", "lastmodifieddate"),
    "companies": ("0-2", "company", "hs_lastmodifieddate"),
    "deals": ("0-3", "deal", "hs_lastmodifieddate"),
    "products": ("0-7", "product", "hs_lastmodifieddate"),
}
TYPE_BY_ID = {info[0]: name for name, info in OBJECT_TYPES.items()}
SINGULAR = {"contact": "contacts", "company": "companies", "deal": "deals", "product": "products"}

DEFAULT_PROPERTIES = {
    "contacts": ["firstname", "lastname", "email"],
    "companies": ["name", "domain"],
    "deals": ["dealname", "amount", "closedate", "pipeline", "dealstage"],
    "products": ["name", "description", "price"],
}

OWNERS = [("101", "Ada Lovelace"), ("102", "Grace Hopper"), ("103", "Alan Turing")]


def _prop(name, label, type_="string", field_type="text", *, options=(), read_only=False, unique=False,
          group="", calculated=False, fixed_options=False):
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "options": [
            {"label": lab, "value": val, "displayOrder": i, "hidden": False} for i, (val, lab) in enumerate(options)
        ],
        "displayOrder": -1,
        "hidden": False,
        "hasUniqueValue": unique,
        "formField": not read_only,
        "hubspotDefined": True,
        "calculated": calculated,
        "externalOptions": False,
        "modificationMetadata": {"archivable": False, "readOnlyDefinition": True, "readOnlyValue": read_only,
                                 # Options HubSpot maintains itself (owners, pipelines) cannot be edited.
                                 **({"readOnlyOptions": fixed_options or read_only} if type_ == "enumeration" else {})},
        "createdAt": "2019-08-06T02:41:08.029Z",
        "updatedAt": "2019-08-06T02:41:08.029Z",
        "archived": False,
    }


def _common(lastmod: str, group: str) -> list[dict]:
    return [
        _prop("hs_object_id", "Record ID", "number", "number", read_only=True, group=group),
        _prop("createdate", "Create Date", "datetime", "date", read_only=True, group=group),
        _prop(lastmod, "Last Modified Date", "datetime", "date", read_only=True, group=group),
        _prop("hubspot_owner_id", "Owner", "enumeration", "select", options=OWNERS, group=group, fixed_options=True),
        _prop("hs_merged_object_ids", "Merged Record IDs", "enumeration", "checkbox", read_only=True,
              group=group),
    ]


LIFECYCLE = [(v, v.title()) for v in (
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer",
    "evangelist", "other")]
INDUSTRIES = [(v, v.replace("_", " ").title()) for v in (
    "ACCOUNTING", "COMPUTER_SOFTWARE", "FINANCIAL_SERVICES", "HOSPITAL_HEALTH_CARE", "RETAIL",
    "CONSTRUCTION", "EDUCATION_MANAGEMENT", "MARKETING_AND_ADVERTISING")]

PROPERTIES: dict[str, list[dict]] = {
    "contacts": _common("lastmodifieddate", "contactinformation") + [
        _prop("email", "Email", unique=True, group="contactinformation"),
        _prop("firstname", "First Name", group="contactinformation"),
        _prop("lastname", "Last Name", group="contactinformation"),
        _prop("phone", "Phone Number", "string", "phonenumber", group="contactinformation"),
        _prop("jobtitle", "Job Title", group="contactinformation"),
        _prop("company", "Company Name", group="contactinformation"),
        _prop("city", "City", group="contactinformation"),
        _prop("date_of_birth", "Date of birth", "date", "date", group="contactinformation"),
        _prop("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", options=LIFECYCLE,
              group="contactinformation"),
        _prop("hs_buying_role", "Buying Role", "enumeration", "checkbox", group="contactinformation",
              options=[("BUDGET_HOLDER", "Budget Holder"), ("CHAMPION", "Champion"),
                       ("DECISION_MAKER", "Decision Maker"), ("END_USER", "End User")]),
        _prop("newsletter_opt_in", "Newsletter opt-in", "bool", "booleancheckbox",
              options=[("true", "Yes"), ("false", "No")], group="contactinformation"),
        _prop("num_notes", "Number of Sales Activities", "number", "number", read_only=True,
              calculated=True, group="contactinformation"),
        # Roll-ups of the associated deals, maintained by sandbox.hubspot.rollups.
        _prop("num_associated_deals", "Number of Associated Deals", "number", "number", read_only=True,
              calculated=True, group="deal_information"),
        _prop("first_deal_created_date", "First Deal Created Date", "datetime", "date", read_only=True,
              calculated=True, group="deal_information"),
        _prop("recent_deal_close_date", "Recent Deal Close Date", "datetime", "date", read_only=True,
              calculated=True, group="deal_information"),
        _prop("recent_deal_amount", "Recent Deal Amount", "number", "number", read_only=True,
              calculated=True, group="deal_information"),
        _prop("total_revenue", "Total Revenue", "number", "number", read_only=True, calculated=True,
              group="deal_information"),
    ],
    "companies": _common("hs_lastmodifieddate", "companyinformation") + [
        _prop("name", "Company name", group="companyinformation"),
        _prop("domain", "Company Domain Name", group="companyinformation"),
        _prop("phone", "Phone Number", "string", "phonenumber", group="companyinformation"),
        _prop("industry", "Industry", "enumeration", "select", options=INDUSTRIES, group="companyinformation"),
        _prop("city", "City", group="companyinformation"),
        _prop("numberofemployees", "Number of Employees", "number", "number", group="companyinformation"),
        _prop("annualrevenue", "Annual Revenue", "number", "number", group="companyinformation"),
        _prop("description", "Description", "string", "textarea", group="companyinformation"),
    ],
    "deals": _common("hs_lastmodifieddate", "dealinformation") + [
        _prop("dealname", "Deal Name", group="dealinformation"),
        _prop("amount", "Amount", "number", "number", group="dealinformation"),
        _prop("closedate", "Close Date", "datetime", "date", group="dealinformation"),
        _prop("pipeline", "Pipeline", "enumeration", "select", group="dealinformation", fixed_options=True),
        _prop("dealstage", "Deal Stage", "enumeration", "radio", group="dealinformation", fixed_options=True),
        _prop("dealtype", "Deal Type", "enumeration", "radio", group="dealinformation",
              options=[("newbusiness", "New Business"), ("existingbusiness", "Existing Business")]),
        _prop("description", "Deal Description", "string", "textarea", group="dealinformation"),
    ],
    "products": _common("hs_lastmodifieddate", "productinformation") + [
        _prop("name", "Name", group="productinformation"),
        _prop("description", "Description", "string", "textarea", group="productinformation"),
        _prop("price", "Unit price", "number", "number", group="productinformation"),
        _prop("hs_sku", "SKU", group="productinformation"),
    ],
}
PROPERTY_INDEX = {otype: {p["name"]: p for p in props} for otype, props in PROPERTIES.items()}

DEFAULT_PIPELINE_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled", "0.2", False),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", False),
    ("presentationscheduled", "Presentation Scheduled", "0.6", False),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", False),
    ("contractsent", "Contract Sent", "0.9", False),
    ("closedwon", "Closed Won", "1.0", True),
    ("closedlost", "Closed Lost", "0.0", True),
]

# (from, to) -> (unlabeled type id, primary type id or None)   [V HS-NODE AssociationTypes]
ASSOCIATION_TYPES = {
    ("contacts", "companies"): (279, 1),
    ("companies", "contacts"): (280, 2),
    ("deals", "contacts"): (3, None),
    ("contacts", "deals"): (4, None),
    ("deals", "companies"): (341, 5),
    ("companies", "deals"): (342, 6),
}
PRIMARY_LABEL = "Primary"


def type_label(type_id: int) -> str | None:
    """The label HubSpot shows for a type id: only the primary types have one."""
    for unlabeled, primary in ASSOCIATION_TYPES.values():
        if type_id == primary:
            return PRIMARY_LABEL
        if type_id == unlabeled:
            return None
    return None


def inverse_type(from_type: str, to_type: str, type_id: int) -> int | None:
    unlabeled, primary = ASSOCIATION_TYPES[(from_type, to_type)]
    back_unlabeled, back_primary = ASSOCIATION_TYPES[(to_type, from_type)]
    if type_id == unlabeled:
        return back_unlabeled
    if type_id == primary:
        return back_primary
    return None


def object_type_from_path(value: str) -> str | None:
    """The object type named in a URL: a name (contacts) or an objectTypeId (0-1)."""
    if value in OBJECT_TYPES:
        return value
    return TYPE_BY_ID.get(value) or SINGULAR.get(value)


def is_id(value) -> bool:
    """Whether `value` can be a record id: ASCII digits that fit a 64-bit integer (str.isdigit
    alone takes "\u00b2" and 30-digit numbers, which then fail in int() or in the database)."""
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) <= 18
