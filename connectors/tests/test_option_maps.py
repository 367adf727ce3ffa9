"""The standard option maps shipped beside the connectors' defaults (option_maps.json): every
option the sandboxes' schemas define has a pair in the default value map, or a stated reason."""

from __future__ import annotations

import pytest

from connectors.base import COMPANIES, DEALS, FieldSpec, FieldType, Option, load_option_maps
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.defaults import DEFAULT_FIELDS as HUBSPOT_DEFAULTS
from connectors.hubspot.defaults import OPTION_MAPS_FILE as HUBSPOT_MAPS
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.defaults import DEFAULT_FIELDS as SALESFORCE_DEFAULTS
from connectors.salesforce.defaults import OPTION_MAPS_FILE as SALESFORCE_MAPS
from sandbox.hubspot.schema import PROPERTY_INDEX
from sandbox.salesforce.schema import OBJECTS
from syncrules.engine.mappings import default_value_map

# The sandboxes define fewer options than the real apps: where the option a standard map pairs a
# value with is missing from a sandbox, the value has no pair there (the sync skips the field
# with a warning). Each such gap is listed here with its reason; anything else unpaired fails.
SANDBOX_GAPS = {
    ("hubspot", "CONSTRUCTION"): "paired with Salesforce's standard 'Construction', which the sandbox org lacks",
    ("salesforce", "Agriculture"): "paired with HubSpot's FARMING / FOOD_PRODUCTION, which the sandbox portal lacks",
    ("salesforce", "Consulting"): "paired with HubSpot's MANAGEMENT_CONSULTING, which the sandbox portal lacks",
    ("salesforce", "Energy"): "paired with HubSpot's OIL_ENERGY / RENEWABLES_ENVIRONMENT / UTILITIES, not in the sandbox",
    ("salesforce", "Manufacturing"): "paired with HubSpot's manufacturing values, none of which the sandbox portal has",
}
PAIRS = [  # (object type, default key, HubSpot property, Salesforce sObject)
    (COMPANIES, "industry", "Account"),
    (DEALS, "deal_type", "Opportunity"),
]


def hubspot_spec(kind: str, key: str) -> FieldSpec:
    name = {d.key: d.field for d in HUBSPOT_DEFAULTS[kind]}[key]
    prop = PROPERTY_INDEX[kind][name]
    return FieldSpec(name, prop["label"], FieldType.ENUMERATION,
                     options=tuple(Option(o["value"], o["label"]) for o in prop["options"]))


def salesforce_spec(kind: str, key: str, sobject: str) -> FieldSpec:
    name = {d.key: d.field for d in SALESFORCE_DEFAULTS[kind]}[key]
    field = OBJECTS[sobject].fields[name]
    return FieldSpec(name, field.label, FieldType.ENUMERATION, options=tuple(Option(v, v) for v in field.picklist))


@pytest.mark.parametrize(("kind", "key", "sobject"), PAIRS)
def test_every_sandbox_option_has_a_pair_or_a_stated_reason(kind, key, sobject):
    hubspot, salesforce = HubSpotConnector("http://hubspot.invalid", {}), SalesforceConnector("http://sf.invalid", {})
    spec_a, spec_b = hubspot_spec(kind, key), salesforce_spec(kind, key, sobject)
    value_map = default_value_map(hubspot, salesforce, kind, key, spec_a, spec_b)
    for app, source, target, direction, other in (
        ("hubspot", spec_a, spec_b, "a_to_b", SALESFORCE_MAPS), ("salesforce", spec_b, spec_a, "b_to_a", HUBSPOT_MAPS),
    ):
        own = load_option_maps(HUBSPOT_MAPS if app == "hubspot" else SALESFORCE_MAPS)[kind][key]
        reasons = load_option_maps(other)[kind][key]["reasons"]
        targets = {o.value for o in target.options}
        for option in source.options:
            paired = value_map[direction].get(option.value)
            canonical = own["to_canonical"].get(option.value)
            if paired is not None:
                assert paired in targets, (app, option.value, paired)
            else:
                assert canonical is not None, f"{app} option {option.value} is missing from its option_maps.json"
                assert canonical in reasons or (app, option.value) in SANDBOX_GAPS, (app, option.value, canonical)


@pytest.mark.parametrize(("kind", "key"), [(COMPANIES, "industry"), (DEALS, "deal_type")])
def test_the_two_maps_speak_the_same_canonical_values(kind, key):
    hubspot, salesforce = load_option_maps(HUBSPOT_MAPS)[kind][key], load_option_maps(SALESFORCE_MAPS)[kind][key]
    for own, other in ((hubspot, salesforce), (salesforce, hubspot)):
        for canonical in set(own["to_canonical"].values()):
            assert canonical in other["from_canonical"] or canonical in other["reasons"], canonical
        for canonical, values in own["from_canonical"].items():
            assert values and all(v in own["to_canonical"] for v in values), canonical


def test_the_reverse_direction_picks_the_most_general_hubspot_value():
    hubspot = load_option_maps(HUBSPOT_MAPS)[COMPANIES]["industry"]
    salesforce = load_option_maps(SALESFORCE_MAPS)[COMPANIES]["industry"]
    assert hubspot["to_canonical"]["COMPUTER_SOFTWARE"] == hubspot["to_canonical"]["INTERNET"] == "technology"
    assert hubspot["from_canonical"]["technology"][0] == "INFORMATION_TECHNOLOGY_AND_SERVICES"
    assert salesforce["from_canonical"]["technology"] == ["Technology"]


def test_a_default_mapping_value_map_uses_a_stand_in_when_the_first_choice_is_missing():
    hubspot, salesforce = HubSpotConnector("http://hubspot.invalid", {}), SalesforceConnector("http://sf.invalid", {})
    spec_a, spec_b = hubspot_spec(COMPANIES, "industry"), salesforce_spec(COMPANIES, "industry", "Account")
    value_map = default_value_map(hubspot, salesforce, COMPANIES, "industry", spec_a, spec_b)
    assert value_map["a_to_b"]["COMPUTER_SOFTWARE"] == "Technology"
    assert value_map["b_to_a"]["Technology"] == "COMPUTER_SOFTWARE"  # the portal lacks INFORMATION_TECHNOLOGY_...
    assert value_map["b_to_a"]["Banking"] == "FINANCIAL_SERVICES"
    assert "Other" not in value_map["b_to_a"]
