"""Every URL the site serves, found by walking the URL conf, with ways to fill its parameters.

Nothing here lists pages: admin model pages, custom admin views (the wizard, the health pages),
the connect flow and every sandbox endpoint are discovered from `get_resolver()`, so a page
added later is fuzzed without being named. Parameters are filled with real values from the
seeded data (by parameter name, by the admin model a URL belongs to, or any real primary key
for a name never seen before) and with malformed ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from django.contrib import admin
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

_ROUTE_PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Endpoint:
    template: str  # "/admin/syncrules/objectsync/{object_id}/change/"
    params: tuple[tuple[str, str], ...]  # (name, converter or "regex:<alternatives>")
    name: str  # the URL's name, or its view's dotted path
    model: type[models.Model] | None  # the admin model a model admin URL belongs to

    def __str__(self) -> str:
        return self.template


def discover() -> list[Endpoint]:
    """Every URL pattern of the site, as a template with named parameters."""
    found: list[Endpoint] = []
    _walk(get_resolver().url_patterns, "/", [], found)
    return found


def _walk(patterns, prefix: str, params: list, found: list[Endpoint]) -> None:
    for pattern in patterns:
        template, own = _template(pattern.pattern)
        if isinstance(pattern, URLResolver):
            _walk(pattern.url_patterns, prefix + template, params + own, found)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or pattern.lookup_str
            found.append(Endpoint(prefix + template, tuple(params + own), name, _admin_model(pattern.name)))


def _template(pattern) -> tuple[str, list[tuple[str, str]]]:
    if isinstance(pattern, RoutePattern):
        route = str(pattern)
        params = [(m["name"], m["converter"] or "str") for m in _ROUTE_PARAM.finditer(route)]
        return _ROUTE_PARAM.sub(lambda m: "{" + m["name"] + "}", route), params
    if isinstance(pattern, RegexPattern):
        return _regex_template(str(pattern))
    raise TypeError(f"unknown pattern type {type(pattern)}")


def _regex_template(regex: str) -> tuple[str, list[tuple[str, str]]]:
    """A regex like ^services/data/v(?P<version>\\d+\\.\\d)/(?P<rest>.*)$ as a template."""
    out, params, i = [], [], 0
    regex = regex.removeprefix("^").removesuffix("$")
    while i < len(regex):
        if regex.startswith("(?P<", i):
            end_name = regex.index(">", i)
            name = regex[i + 4:end_name]
            depth, j = 1, end_name + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(regex[j], 0) if regex[j - 1] != "\\" else 0
                j += 1
            params.append((name, "regex:" + regex[end_name + 1:j - 1]))
            out.append("{" + name + "}")
            i = j
        elif regex.startswith("/?", i):
            out.append("/")
            i += 2
        elif regex[i] == "\\":
            out.append(regex[i + 1])
            i += 2
        else:
            out.append(regex[i])
            i += 1
    return "".join(out), params


def _admin_model(url_name: str | None) -> type[models.Model] | None:
    if not url_name:
        return None
    for model in admin.site._registry:
        if url_name.startswith(f"{model._meta.app_label}_{model._meta.model_name}_"):
            return model
    return None


# --- values ---------------------------------------------------------------------------------
MALFORMED = (
    "0", "-1", "abc", "99999999999999999999999999", "1e999", "NaN", "1.5", "..", "%00", "\x00", "é",
    "😀", "a" * 300, " ", "null", "[]", "{}", "'; DROP TABLE x; --", "<script>", "1,2", "%2F", "-0",
    "9" * 5000,
)
SANDBOX_VALUES = {
    "object_type": ("contacts", "companies", "deals", "products", "line_items", "0-1", "CONTACTS"),
    "to_type": ("contacts", "companies", "deals"),
    "from_type": ("contacts", "companies", "deals"),
    "action": ("read", "create", "update", "upsert", "archive", "associate", "get", "delete"),
    "association_type": ("1", "279", "3", "5"),
    "name": ("email", "firstname", "dealstage", "pipeline", "hs_object_id", "hubspot_owner_id"),
    "pipeline_id": ("default", "1"),
    "token_value": ("sbx-unknown", ""),
    "version": ("60.0", "59.0", "1.0"),
    "app_label": (),
    "url": ("nope/", "syncrules/nope/", ""),
}
SALESFORCE_RESTS = (
    "", "limits", "query", "queryAll", "query/01gAAA-2000", "queryAll/01gZZZ-0", "sobjects",
    "sobjects/{sobject}", "sobjects/{sobject}/describe", "sobjects/{sobject}/updated", "sobjects/{sobject}/deleted",
    "sobjects/{sobject}/{sf_id}", "sobjects/{sobject}/External_Id__c/{word}", "sobjects/{sobject}/Id/{sf_id}",
    "composite/sobjects", "composite/sobjects/{sobject}", "composite/sobjects/{sobject}/External_Id__c",
    "ui-api/object-info/{sobject}/picklist-values/012000000000000AAA",
    "ui-api/object-info/{sobject}/picklist-values/012000000000000AAA/StageName",
)
SOBJECTS = ("Contact", "Account", "Opportunity", "OpportunityContactRole", "Lead", "User", "RecordType", "Nope")


def real_pks() -> dict[str, list[str]]:
    """Real primary keys: per admin model, and all of ours for parameters seen for the first time."""
    pools: dict[str, list[str]] = {}
    every: list[str] = []
    for model in admin.site._registry:
        pks = [str(pk) for pk in model._default_manager.order_by("pk").values_list("pk", flat=True)[:8]]
        pools[model._meta.label_lower] = pks
        every += pks
    pools["*"] = sorted(set(every))
    from django.contrib.contenttypes.models import ContentType

    pools["content_type_id"] = [str(pk) for pk in ContentType.objects.values_list("pk", flat=True)[:5]]
    return pools


def real_values(endpoint: Endpoint, name: str, converter: str, pools: dict[str, list[str]],
                ids: dict[str, list[str]]) -> list[str]:
    """The real values a parameter may take, best guess first."""
    if converter.startswith("regex:") and "|" in converter and "(" not in converter[6:]:
        return converter[6:].split("|")
    if name == "object_id" and endpoint.model is not None:
        return pools.get(endpoint.model._meta.label_lower) or ["1"]
    if name in {"pk", "connection_id"} and endpoint.template.startswith("/connect/"):
        return pools.get("connectors.connection") or ["1"]
    if endpoint.template.startswith("/sandbox/"):
        if name in {"object_id", "to_id"}:
            return ids.get("hubspot_object_id") or ["1"]
        if name == "rest":
            return [_rest(r, ids) for r in SALESFORCE_RESTS]
        if SANDBOX_VALUES.get(name):
            return list(SANDBOX_VALUES[name])
    if name in pools:
        return pools[name]
    if SANDBOX_VALUES.get(name):
        return list(SANDBOX_VALUES[name])
    # A parameter never seen before (a new page's <int:draft_id>, <str:step>): any real id.
    return pools["*"] + (["select", "mappings", "filters", "review", "1"] if converter not in {"int", "path"} else [])


def _rest(template: str, ids: dict[str, list[str]], i: int = 0) -> str:
    sf_ids = ids.get("sf_id") or ["003000000000001AAA"]
    return template.format(sobject=SOBJECTS[i % 3], sf_id=sf_ids[i % len(sf_ids)], word="abc")


def fill(endpoint: Endpoint, values: dict[str, str]) -> str:
    """The concrete path: each parameter's value, percent-encoded (slashes kept where a
    parameter may hold a path)."""
    path = endpoint.template
    for name, converter in endpoint.params:
        keep = "/" if converter in {"path"} or converter.startswith("regex:.*") else ""
        path = path.replace("{" + name + "}", quote(values[name], safe=keep), 1)
    return path
