"""Fuzz every URL of the site as every role: no input answers 500, no response shows a secret.

The URL conf is walked (urlwalk.py), so pages added later (the wizard, the health pages) are
covered without being listed here. CI runs a bounded, derandomized share; run it longer with
`FUZZ_EXAMPLES=20000 .venv/bin/pytest -q -p no:cacheprovider syncsite/tests/test_fuzz_urls.py -s`
(the summary line counts the requests sent and the 500s).
"""

from __future__ import annotations

import json
import logging
import os
import re
import string
from collections import Counter
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox.hubspot import gate
from syncsite.tests import urlwalk
from syncsite.tests.world import SECRETS, World, build_world

pytestmark = pytest.mark.django_db

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND")
QUERY_KEYS = (
    "o", "p", "q", "e", "all", "_to_field", "_popup", "_changelist_filters", "status__exact", "status",
    "object_sync__id__exact", "object_sync__object_type__exact", "error_category__exact", "last_synced_at__gte",
    "last_synced_at__lt", "created_at__gte", "started_at__year", "started_at__month", "started_at__day",
    "state__exact", "kind__exact", "kind", "trigger__exact", "action__exact", "category__exact", "side__exact",
    "id__in", "pk", "next", "after", "limit", "properties", "propertiesWithHistory", "archived", "associations",
    "idProperty", "start", "end", "ids", "fields", "code", "state", "error", "error_description", "client_id",
    "redirect_uri", "scope", "optional_scope", "response_type", "hapikey", "format", "step", "draft", "sync",
    "connection", "page", "days", "since", "until", "search", "sort", "dir", "file_format", "export_items",
)
FORM_KEYS = (
    "name", "kind", "base_url", "options", "value_map", "state", "next_run_at_0", "next_run_at_1", "next_run_at",
    "interval_seconds", "object_type", "direction", "conflict_winner", "connection_a", "connection_b",
    "field_a", "field_b", "enabled", "is_default", "position", "side", "field", "operator", "value",
    "pipeline_a", "pipeline_b", "stage_a", "stage_b", "object_sync", "pipeline_mapping", "require_email",
    "match_records", "sync_deals", "cred_access_token", "cred_refresh_token", "cred_client_id",
    "cred_client_secret", "cred_instance_url", "action", "_selected_action", "select_across", "index", "post",
    "_save", "_continue", "_addanother", "_saveasnew", "field_mappings-TOTAL_FORMS", "field_mappings-INITIAL_FORMS",
    "field_mappings-0-value_map", "field_mappings-0-field_a", "filters-TOTAL_FORMS", "filters-INITIAL_FORMS",
    "pipeline_mappings-TOTAL_FORMS", "pipeline_mappings-INITIAL_FORMS", "stage_mappings-TOTAL_FORMS",
    "grant_type", "code", "refresh_token", "client_id", "client_secret", "redirect_uri", "portal", "decision",
    "username", "password", "step", "back", "next", "confirm", "mappings", "filters", "link", "links", "ids",
)
NASTY_JSON_TEXT = (
    "NaN", "Infinity", "-Infinity", "1e999", "-1e999", "null", "[1,2]", '"s"', "true", "{", "[" * 3000 + "]" * 3000,
    '{"a":' * 2000 + "1" + "}" * 2000, "9" * 5000, '{"inputs": 5}', '{"inputs": [null]}', '{"inputs": [{"id": {}}]}',
    '{"filterGroups": "x"}', '{"after": -1, "limit": 1e400}', '{"records": {}}', '{"allOrNone": "x", "records": [1]}',
    '{"a_to_b": {"x": 1}}', '{"a_to_b": []}', '{"association_sweep_seconds": -5}', '{"unknown": 1}', '"\\ud800"',
)
TEXTS = st.one_of(
    st.sampled_from(urlwalk.MALFORMED),
    st.sampled_from(NASTY_JSON_TEXT),
    st.text(alphabet=string.printable + "éü€😀\x00", max_size=40),
    st.integers(-(2**70), 2**70).map(str),
)
# Keys of the vendors' request bodies, so random JSON often has nearly the right shape and
# reaches the sandboxes' handlers rather than their first check.
VENDOR_KEYS = (
    "inputs", "id", "properties", "after", "limit", "filterGroups", "filters", "propertyName", "operator",
    "value", "values", "highValue", "sorts", "query", "records", "allOrNone", "attributes", "type", "types",
    "associationCategory", "associationTypeId", "from", "to", "ids", "fields", "idProperty", "primaryObjectId",
    "objectIdToMerge", "label", "stages", "displayOrder", "name", "associations", "Email", "LastName", "Id",
    "AccountId", "StageName", "CloseDate", "Amount", "email", "dealstage", "pipeline", "archived", "inverseLabel",
)
LEAVES = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.integers(-3, 300)
          | st.floats(allow_nan=False) | TEXTS)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(VENDOR_KEYS + FORM_KEYS[:20]) | st.text(max_size=8), inner, max_size=5),
    max_leaves=14,
)
_VENDOR_OBJECT = st.dictionaries(st.sampled_from(VENDOR_KEYS), LEAVES | st.lists(LEAVES, max_size=3), max_size=4)
# Nearly valid bodies: an object of vendor keys whose values are leaves, lists of such objects,
# or objects (the shapes of batch inputs, search requests and composite records).
VENDOR_BODIES = st.dictionaries(
    st.sampled_from(VENDOR_KEYS),
    LEAVES | st.lists(_VENDOR_OBJECT | LEAVES, max_size=3) | _VENDOR_OBJECT,
    min_size=1, max_size=4,
)


# Valid request bodies of the vendors' APIs (by a piece of the path), mutated below so that
# most fuzzed bodies are nearly right and reach deep into the sandboxes' handlers.
_ASSOC = [{"to": {"id": "1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]
CORPUS = (
    ("/search", {"filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "a@b.co"},
                                               {"propertyName": "hs_object_id", "operator": "BETWEEN",
                                                "value": "1", "highValue": "9"}]},
                                  {"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                                "value": "2024-01-01T00:00:00Z"}]}],
                 "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                 "properties": ["email", "firstname"], "limit": 10, "after": "0", "query": "a"}),
    ("/batch/", {"inputs": [{"id": "1", "properties": {"email": "x@y.co", "firstname": "X"},
                             "associations": _ASSOC, "idProperty": "email", "objectWriteTraceId": "t1"}],
                 "properties": ["email"], "idProperty": "email"}),
    ("crm/v4/associations/", {"inputs": [{"from": {"id": "1"}, "to": {"id": "2"},
                                          "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                     "associationTypeId": 1}]}]}),
    ("/labels", {"label": "Partner", "name": "partner", "inverseLabel": "Partner of"}),
    ("/merge", {"primaryObjectId": "1", "objectIdToMerge": "2"}),
    ("/pipelines/", {"label": "Sales", "displayOrder": 0, "stages": [
        {"label": "New", "displayOrder": 0, "metadata": {"probability": "0.1", "isClosed": "false"}}]}),
    ("/properties/", {"name": "tier", "label": "Tier", "type": "enumeration", "fieldType": "select",
                      "groupName": "contactinformation", "options": [{"label": "Gold", "value": "gold"}]}),
    ("crm/v3/objects/", {"properties": {"email": "n@e.co", "dealstage": "closedwon", "amount": "10"},
                         "associations": _ASSOC}),
    ("crm/v4/objects/", [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]),
    ("composite/sobjects", {"allOrNone": False, "records": [
        {"attributes": {"type": "Contact"}, "Id": "003000000000001AAA", "LastName": "X", "Email": "x@y.co"}],
        "ids": ["003000000000001AAA"], "fields": ["Id", "Email"]}),
    ("services/data/", {"LastName": "X", "Email": "x@y.co", "AccountId": "001000000000001AAA",
                        "StageName": "Prospecting", "CloseDate": "2024-01-01", "Amount": 10}),
    ("services/oauth2/", {"grant_type": "refresh_token", "refresh_token": "x"}),
)
NASTY_VALUES = st.sampled_from([None, -1, 0, 2**63, 10**400, -(10**30), 1.5, "", "x" * 5000, [], {}, [[[]]], True,
                                "NaN", "1e999", "2024-13-45", "\u0000", "-1", "abc", [None], {"id": {}}])


def _mutate(draw, value):
    """`value` with one to three changes at random places: a value swapped for a nasty one or
    random JSON, a key dropped or added, a list multiplied past the vendors' batch limits. Few
    changes, so most bodies pass the first checks and reach deep into the handlers."""
    for _ in range(draw(st.integers(1, 3))):
        value = _mutate_once(draw, value)
    return value


def _mutate_once(draw, value):
    children = list(value.items()) if isinstance(value, dict) else list(enumerate(value)) \
        if isinstance(value, list) else []
    if children and draw(st.integers(0, 3)):  # go deeper, mostly
        key, child = draw(st.sampled_from(children))
        copy = dict(value) if isinstance(value, dict) else list(value)
        copy[key] = _mutate_once(draw, child)
        return copy
    roll = draw(st.integers(0, 5))
    if roll == 0 and isinstance(value, dict) and value:
        return {k: v for k, v in value.items() if k != draw(st.sampled_from(list(value)))}
    if roll == 1 and isinstance(value, dict):
        return {**value, draw(st.sampled_from(VENDOR_KEYS)): draw(NASTY_VALUES)}
    if roll == 2 and isinstance(value, list) and value:
        return value * draw(st.sampled_from([2, 101, 201, 1001]))
    if roll == 3:
        return draw(JSON_VALUES)
    return draw(NASTY_VALUES)


def _template_body(template: str):
    for piece, body in CORPUS:
        if piece in template:
            return body
    return None


_FIELD_NAME = re.compile(r'name="([^"]{1,80})"')
_OPTION_VALUE = re.compile(r'<option value="([^"]{0,80})"')


class Fuzzer:
    """Sends requests as each role, counting them and collecting every 500 and leak."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.endpoints = urlwalk.discover()
        self.pools = urlwalk.real_pks()
        self.clients = {}
        for role, user in world.users.items():
            client = Client(raise_request_exception=False)
            if user is not None:
                client.force_login(user)
            self.clients[role] = client
        self.forms = self.discover_forms()
        self.sent = 0
        self.statuses: Counter[str] = Counter()  # "sandbox 2xx", "admin 4xx": how deep the fuzz reaches
        self.failures: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def discover_forms(self) -> dict[str, list[tuple[str, str]]]:
        """Each page's own form fields and values (read from its HTML as a superuser), so new
        forms (the wizard's steps) are fuzzed with their real field names without listing them."""
        forms: dict[str, list[tuple[str, str]]] = {}
        client = self.clients["superuser"]
        for endpoint in self.endpoints:
            if endpoint.template.startswith("/sandbox/"):
                continue
            values = {name: self.values(endpoint, name, conv)[0] for name, conv in endpoint.params}
            response = client.get(urlwalk.fill(endpoint, values))
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            html = response.content.decode("utf-8", "replace")
            names = sorted(set(_FIELD_NAME.findall(html)) - {"csrfmiddlewaretoken"})
            options = sorted(set(_OPTION_VALUE.findall(html)))[:50] or [""]
            forms[endpoint.template] = [(name, value) for name in names for value in options[:1]] + [
                ("", value) for value in options]
        return forms

    def sandbox_auth(self, template: str) -> dict[str, str]:
        """The header that lets a request past a sandbox's authentication to its handlers."""
        if template.startswith("/sandbox/hubspot/"):
            return {"Authorization": f"Bearer {self.world.portal.private_token}"}
        if template.startswith("/sandbox/salesforce/"):
            return {"Authorization": f"Bearer {self.world.sf_token}"}
        return {}

    def values(self, endpoint: urlwalk.Endpoint, name: str, converter: str) -> list[str]:
        return urlwalk.real_values(endpoint, name, converter, self.pools, self.world.ids)

    def send(self, role: str, method: str, path: str, *, query: list[tuple[str, str]] = (), body: bytes = b"",
             content_type: str = "application/x-www-form-urlencoded", headers: dict | None = None,
             template: str = "") -> None:
        url = path + ("?" + urlencode(query) if query else "")
        gate.reset_rate_limits()
        with transaction.atomic():  # every request starts from the same seeded data
            response = self.clients[role].generic(method, url, body, content_type=content_type,
                                                  headers=headers or {})
            self.check(role, method, url, template or path, response)
            transaction.set_rollback(True)
        self.sent += 1

    def check(self, role: str, method: str, url: str, template: str, response) -> None:
        self.statuses[f"{template.split('/')[1]} {response.status_code}"] += 1
        if response.status_code >= 500:
            exc = getattr(response, "exc_info", None)
            where = f"{method} {template} -> {response.status_code} {exc[0].__name__ + ': ' + str(exc[1])[:200] if exc else ''}"
            self.failures[where] += 1
            self.examples.setdefault(where, f"as {role}: {method} {url[:300]}")
        text = _text(response)
        for secret in SECRETS:
            if secret in text:
                where = f"SECRET shown by {method} {template}"
                self.failures[where] += 1
                self.examples.setdefault(where, f"as {role}: {method} {url[:300]}")

    def report(self, label: str) -> str:
        lines = [f"fuzz {label}: {self.sent} requests sent, {sum(self.failures.values())} failures "
                 f"({sum(n for k, n in self.failures.items() if '-> 5' in k)} answered 500); answers: "
                 + ", ".join(f"{k}: {n}" for k, n in sorted(self.statuses.items()))]
        lines += [f"  {n} x {where}\n      e.g. {self.examples[where]}" for where, n in self.failures.most_common()]
        return "\n".join(lines)


def _text(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    headers = " ".join(f"{k}: {v}" for k, v in response.items())
    return content.decode("utf-8", "replace") + headers + str(response.cookies)


@pytest.fixture
def fuzzer(db) -> Fuzzer:  # noqa: ARG001
    gate.reset_rate_limits()
    # Thousands of 4xx warnings say nothing here: failures are collected and reported instead.
    quiet = logging.getLogger("django.request"), logging.getLogger("django.security")
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    yield Fuzzer(build_world())
    for logger, level in zip(quiet, levels, strict=True):
        logger.setLevel(level)


def test_it_discovers_the_admin_the_connect_flow_and_every_sandbox_endpoint():
    templates = {e.template for e in urlwalk.discover()}
    assert "/admin/syncrules/objectsync/{object_id}/change/" in templates
    assert "/connect/callback/" in templates and "/connect/{pk}/" in templates
    assert "/sandbox/hubspot/crm/v3/objects/{object_type}/{object_id}" in templates
    assert "/sandbox/salesforce/services/data/v{version}/{rest}" in templates
    assert len(templates) > 100


def test_every_page_answers_every_role_without_a_500_or_a_secret(fuzzer):
    """The walk: each URL with real values and with a malformed one, GET and an empty POST."""
    for endpoint in fuzzer.endpoints:
        real = {name: fuzzer.values(endpoint, name, conv)[0] for name, conv in endpoint.params}
        broken = {name: "99999999999999999999" if conv == "int" else "abc%" for name, conv in endpoint.params}
        headers = fuzzer.sandbox_auth(endpoint.template)
        for role in fuzzer.clients:
            fuzzer.send(role, "GET", urlwalk.fill(endpoint, real), template=endpoint.template, headers=headers)
            if role in {"superuser", "Support", "anonymous"}:
                fuzzer.send(role, "POST", urlwalk.fill(endpoint, real), template=endpoint.template, headers=headers)
        if endpoint.params:
            fuzzer.send("superuser", "GET", urlwalk.fill(endpoint, broken), template=endpoint.template,
                        headers=headers)
    print("\n" + fuzzer.report("walk"))
    assert not fuzzer.failures, fuzzer.report("walk")


@st.composite
def requests(draw, fuzzer: Fuzzer):
    sandboxes = [e for e in fuzzer.endpoints if e.template.startswith("/sandbox/")]
    # The sandboxes take most of the vendor-shaped input: half the draws go to them.
    endpoint = draw(st.sampled_from(fuzzer.endpoints) | st.sampled_from(sandboxes))
    values = {}
    for name, conv in endpoint.params:
        real = fuzzer.values(endpoint, name, conv)
        values[name] = draw(st.sampled_from(real) | TEXTS if real else TEXTS)
        if name == "rest" and draw(st.booleans()):
            values[name] = urlwalk._rest(draw(st.sampled_from(urlwalk.SALESFORCE_RESTS)), fuzzer.world.ids,
                                         draw(st.integers(0, 5)))
    role = draw(st.sampled_from(sorted(fuzzer.clients)))
    sandbox = endpoint.template.startswith("/sandbox/")
    method = draw(st.sampled_from(METHODS[:5] if sandbox else METHODS[:2]) | st.sampled_from(METHODS))
    query = draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS), TEXTS | st.sampled_from(fuzzer.pools["*"])),
                          max_size=4))
    kind = draw(st.sampled_from(["json", "json", "json", "form", "raw", "none"] if sandbox
                                else ["form", "form", "json", "raw", "none"]))
    if kind == "form":
        known = fuzzer.forms.get(endpoint.template) or []
        names = [n for n, _ in known if n]
        choices = [v for n, v in known if not n]
        key = st.sampled_from(names) | st.sampled_from(FORM_KEYS) if names else st.sampled_from(FORM_KEYS)
        value = TEXTS | st.sampled_from(fuzzer.pools["*"]) | (st.sampled_from(choices) if choices else TEXTS)
        fields = draw(st.lists(st.tuples(key, value), max_size=10))
        if names and draw(st.booleans()):  # a whole form, every field filled
            fields += [(name, draw(value)) for name in names[:40]]
        body, content_type = urlencode(fields).encode(), "application/x-www-form-urlencoded"
    elif kind == "json":
        base = _template_body(endpoint.template)
        if base is not None and draw(st.integers(0, 3)):
            text = json.dumps(_mutate(draw, base))
        else:
            text = draw(st.sampled_from(NASTY_JSON_TEXT) | JSON_VALUES.map(json.dumps)
                        | VENDOR_BODIES.map(json.dumps))
        body, content_type = text.encode("utf-8", "surrogatepass"), "application/json"
    elif kind == "raw":
        body, content_type = draw(st.binary(max_size=64)), draw(st.sampled_from(["application/json", "text/plain"]))
    else:
        body, content_type = b"", "application/x-www-form-urlencoded"
    headers = fuzzer.sandbox_auth(endpoint.template) if sandbox else {}
    if sandbox and draw(st.integers(0, 9)) == 0:  # now and then, bad or missing credentials
        headers["Authorization"] = draw(st.sampled_from(["Bearer garbage", "OAuth ", "Basic eA==", "", "Bearer"]))
    return role, method, urlwalk.fill(endpoint, values), query, body, content_type, headers, endpoint.template


def test_random_requests_as_every_role_never_answer_500_nor_show_a_secret(fuzzer):
    @settings(max_examples=FUZZ_EXAMPLES, derandomize=not os.environ.get("FUZZ_RANDOM"), deadline=None,
              database=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def fuzz(data):
        role, method, path, query, body, content_type, headers, template = data.draw(requests(fuzzer))
        fuzzer.send(role, method, path, query=query, body=body, content_type=content_type, headers=headers,
                    template=template)

    fuzz()
    print("\n" + fuzzer.report(f"random ({FUZZ_EXAMPLES} examples)"))
    assert not fuzzer.failures, fuzzer.report("random")
