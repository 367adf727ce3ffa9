"""Default field mappings: canonical keys (shared with the Salesforce connector) -> HubSpot
property names; plus the scopes the connector asks for."""

from __future__ import annotations

from pathlib import Path

from connectors.base import COMPANIES, CONTACTS, DEALS, DefaultField

DEFAULT_FIELDS: dict[str, list[DefaultField]] = {
    CONTACTS: [
        DefaultField("email", "email"),
        DefaultField("first_name", "firstname"),
        DefaultField("last_name", "lastname"),
        DefaultField("phone", "phone"),
        DefaultField("job_title", "jobtitle"),
        DefaultField("company_name", "company"),
        DefaultField("owner", "hubspot_owner_id"),
    ],
    COMPANIES: [
        DefaultField("name", "name"),
        DefaultField("domain", "domain"),
        DefaultField("phone", "phone"),
        DefaultField("industry", "industry"),
        DefaultField("city", "city"),
        DefaultField("owner", "hubspot_owner_id"),
    ],
    DEALS: [
        DefaultField("deal_name", "dealname"),
        DefaultField("amount", "amount"),
        DefaultField("close_date", "closedate"),
        DefaultField("pipeline", "pipeline"),  # pipeline and stage: translated by the pipeline mapping
        DefaultField("stage", "dealstage"),
        DefaultField("deal_type", "dealtype"),
        DefaultField("description", "description"),
        DefaultField("owner", "hubspot_owner_id"),
    ],
}

# Scopes requested when connecting with OAuth (and checked by check()).
REQUIRED_SCOPES = (
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.read",
    "crm.schemas.companies.read",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",  # creating deal pipelines (Salesforce record types)
)
# Products, and adding missing options to contact and company properties ("add the missing
# option" policy): without them those calls fail with a clear message, the rest works.
OPTIONAL_SCOPES = ("crm.objects.products.read", "crm.objects.products.write",
                   "crm.schemas.contacts.write", "crm.schemas.companies.write")

# Standard option maps of the default mappings between enumerations (reviewed like code; see
# connectors/base.load_option_maps and syncrules.engine.mappings.standard_value_map).
OPTION_MAPS_FILE = str(Path(__file__).with_name("option_maps.json"))
