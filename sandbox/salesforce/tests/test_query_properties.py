"""Property: filtering in the database first never changes a query's answer."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.salesforce import evaluate, query, soql, store
from sandbox.salesforce.models import Org, Record
from sandbox.salesforce.seed import seed_org


@pytest.fixture
def contacts(db):
    seeded = seed_org("props", contacts=40)
    records = list(Record.objects.filter(sobject="Contact").order_by("sf_id"))
    base = store.now()
    for i, record in enumerate(records):  # a handful of shared timestamps, like bulk writes make
        record.system_modstamp = base - timedelta(seconds=i % 4)
    Record.objects.bulk_update(records, ["system_modstamp"])
    org = Org.objects.get(pk=seeded.org.pk)
    records[0].data = {**records[0].data, "LastName": "Ünal"}  # non-ASCII: Python folds it, SQLite may not
    Record.objects.bulk_update(records[:1], ["data"])
    return org, [r.sf_id for r in records], sorted({r.system_modstamp for r in records})


def text_conditions(org):
    """Equality and IN on text fields, with values in other cases than stored."""
    rows = [r.data for r in Record.objects.filter(org=org, sobject="Contact")]
    emails = [r["Email"] for r in rows]
    names = [r["LastName"] for r in rows]
    email = st.sampled_from(emails).map(str.upper)
    name = st.sampled_from(names).flatmap(lambda n: st.sampled_from([n, n.upper(), n.lower()]))
    quoted = lambda v: "'" + v.replace("'", "\\'") + "'"  # noqa: E731
    return st.one_of(
        email.map(lambda e: f"Email = {quoted(e)}"),
        st.lists(email, min_size=1, max_size=3).map(lambda es: f"Email IN ({', '.join(map(quoted, es))})"),
        name.map(lambda n: f"LastName = {quoted(n)}"),
        st.lists(name, min_size=1, max_size=3).map(lambda ns: f"LastName IN ({', '.join(map(quoted, ns))})"),
    )


def literal_conditions(ids, stamps, texts):
    stamp = st.sampled_from(stamps).map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))
    op = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
    on_stamp = st.builds(lambda o, s: f"SystemModstamp {o} {s}", op, stamp)
    on_id = st.builds(lambda o, i: f"Id {o} '{i}'", op, st.sampled_from(ids))
    other = st.sampled_from(["LastName != null", "Email LIKE '%a%'", "IsDeleted = false"])
    return st.one_of(on_stamp, on_id, other, texts)


def conditions(ids, stamps, texts):
    return st.recursive(
        literal_conditions(ids, stamps, texts),
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"({a} AND {b})", inner, inner),
            st.builds(lambda a, b: f"({a} OR {b})", inner, inner),
            st.builds(lambda a: f"(NOT {a})", inner),
        ),
        max_leaves=5,
    )


@given(data=st.data())
def test_the_database_prefilter_is_never_narrower_than_the_query(contacts, data):
    org, ids, stamps = contacts
    where = data.draw(conditions(ids, stamps, text_conditions(org)))
    text = f"SELECT Id FROM Contact WHERE {where} ORDER BY SystemModstamp, Id"
    meta = store.OrgMeta(org)
    answer = [r["Id"] for r in query.run(org, meta, text, include_deleted=False)["records"]]
    parsed = soql.parse(text)
    soql.resolve(parsed, meta.fields_of)
    every_row = query.rows(Record.objects.filter(org=org, sobject="Contact"))
    expected = [
        r["Id"]
        for r in evaluate.sort_rows(
            [r for r in every_row if evaluate.matches(parsed.where, r, parsed.types)],
            parsed.order,
            parsed.types,
        )
    ]
    assert answer == expected


@pytest.mark.parametrize(
    "where", ["LastName = 'ÜNAL'", "LastName IN ('ünal', 'nobody')", "LastName = 'Ünal'"]
)
def test_text_equality_folds_case_beyond_ascii_like_salesforce(contacts, where):
    org, ids, _ = contacts
    text = f"SELECT Id FROM Contact WHERE {where}"
    answer = query.run(org, store.OrgMeta(org), text, include_deleted=False)["records"]
    assert [r["Id"] for r in answer] == [ids[0]]
