"""Options of enumeration properties over HTTP: which the connector may add, and adding them."""

from __future__ import annotations

import pytest

from connectors.base import COMPANIES, DEALS, Option
from connectors.errors import ConnectorError, ErrorCategory


def test_it_may_add_options_to_dropdowns_but_not_to_those_hubspot_keeps(hubspot):
    specs = hubspot.field_map(COMPANIES)
    assert hubspot.can_add_options(COMPANIES, specs["industry"])
    assert not hubspot.can_add_options(COMPANIES, specs["hubspot_owner_id"])
    assert not hubspot.can_add_options(COMPANIES, specs["name"])
    assert not hubspot.can_add_options(DEALS, hubspot.field_map(DEALS)["dealstage"])


def test_it_adds_missing_options_keeping_the_others_and_records_may_use_them(hubspot):
    before = [o.value for o in hubspot.field_map(COMPANIES)["industry"].options]
    spec = hubspot.add_options(COMPANIES, "industry", [Option("Banking", "Banking"), Option("RETAIL", "Retail")])
    assert [o.value for o in spec.options] == [*before, "Banking"]
    assert hubspot.field_map(COMPANIES)["industry"] == spec  # the cached schema follows
    [result] = hubspot.write(COMPANIES, creates=[{"name": "Bank", "industry": "Banking"}])
    assert result.ok, result.error
    calls = hubspot.client.calls
    hubspot.add_options(COMPANIES, "industry", [Option("Banking", "Banking")])
    assert hubspot.client.calls - calls == 1  # nothing missing: read, no write


def test_a_portal_without_the_schema_write_scope_refuses_with_a_clear_error(make_portal, connect):
    portal = make_portal(scopes=["crm.objects.companies.read", "crm.objects.companies.write", "crm.schemas.companies.read"])
    hubspot = connect(portal)
    with pytest.raises(ConnectorError) as info:
        hubspot.add_options(COMPANIES, "industry", [Option("Banking", "Banking")])
    assert info.value.category is ErrorCategory.PERMISSION_DENIED and "crm.schemas.companies.write" in info.value.message
