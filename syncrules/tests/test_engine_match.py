"""Matching and filters on plain data."""

from hypothesis import given
from hypothesis import strategies as st

from syncrules.engine.filters import Condition, exclusion_reason, is_valid_email, normalize_email, passes
from syncrules.engine.match import TAKEN, Candidate, match_all, normalize_domain, record_keys

CONTACT_FIELDS = {"email": "email"}
COMPANY_FIELDS = {"name": "name", "domain": "domain"}


def test_it_compares_emails_without_case_or_whitespace():
    assert normalize_email(" Ann@Example.com ") == normalize_email("ann@example.COM")
    assert is_valid_email(" ann@example.com ")
    assert not is_valid_email("ann@")
    assert not is_valid_email("ann example.com")
    assert not is_valid_email(None)


def test_it_matches_contacts_by_email():
    keys = record_keys({"email": " ANN@example.com"}, CONTACT_FIELDS)
    result = match_all([("1", keys)], [Candidate("b9", {"email": "bob@example.com"}), Candidate("b7", {"email": "ann@example.com"})])
    assert result == {"1": "b7"}


def test_it_never_matches_on_an_invalid_email():
    assert record_keys({"email": "not-an-email"}, CONTACT_FIELDS) == {}
    assert match_all([("1", {})], [Candidate("b1", {})]) == {"1": None}


def test_it_matches_companies_by_name_even_with_different_domains():
    keys = record_keys({"name": "Acme  Corp", "domain": "acme.com"}, COMPANY_FIELDS)
    result = match_all([("1", keys)], [Candidate("b1", {"name": "acme corp", "domain": "acme.co.uk"})])
    assert result == {"1": "b1"}


def test_it_matches_companies_by_domain_even_with_different_names():
    keys = record_keys({"name": "Acme", "domain": "https://www.Acme.com/about"}, COMPANY_FIELDS)
    result = match_all([("1", keys)], [Candidate("b1", {"name": "ACME Inc", "domain": "acme.com"})])
    assert result == {"1": "b1"}
    assert normalize_domain("http://www.acme.com/x?y") == "acme.com"


def test_a_candidate_serves_only_one_record_and_the_second_is_reported_as_taken():
    keys = {"email": "ann@example.com"}
    result = match_all([("1", keys), ("2", keys)], [Candidate("b1", keys)])
    assert result == {"1": "b1", "2": TAKEN}


def test_a_candidate_already_linked_elsewhere_is_taken():
    keys = {"email": "ann@example.com"}
    assert match_all([("1", keys)], [Candidate("b1", keys)], taken={"b1"}) == {"1": TAKEN}


def test_two_unmatched_records_with_the_same_key_create_only_one():
    keys = {"email": "new@example.com"}
    assert match_all([("1", keys), ("2", dict(keys))], []) == {"1": None, "2": TAKEN}


def test_filters_compare_text_case_insensitively_and_numbers_as_numbers():
    assert passes(Condition("country", "eq", "france"), {"country": "France"})
    assert passes(Condition("employees", "gt", "9"), {"employees": "10"})
    assert not passes(Condition("employees", "lt", "9"), {"employees": 10})
    assert passes(Condition("tier", "in", "gold, silver"), {"tier": "Silver"})
    assert passes(Condition("name", "contains", "acm"), {"name": "ACME"})
    assert passes(Condition("phone", "unknown"), {"phone": ""})
    assert not passes(Condition("phone", "known"), {})
    assert passes(Condition("country", "neq", "fr"), {})


def test_it_explains_why_a_record_is_excluded():
    assert "No email" in exclusion_reason({"email": ""}, [], email_field="email")
    assert "Invalid email" in exclusion_reason({"email": "x@"}, [], email_field="email")
    reason = exclusion_reason({"email": "a@b.co", "country": "DE"}, [Condition("country", "eq", "FR")], email_field="email")
    assert "filter" in reason
    assert exclusion_reason({"email": "a@b.co", "country": "FR"}, [Condition("country", "eq", "FR")], email_field="email") == ""


keys_strategy = st.dictionaries(st.sampled_from(["name", "domain"]), st.sampled_from(["a", "b", "c", "d"]), max_size=2)


@given(
    sources=st.lists(keys_strategy, max_size=8),
    candidates=st.lists(keys_strategy, max_size=8),
)
def test_matching_pairs_each_candidate_once_and_never_creates_two_records_with_a_shared_key(sources, candidates):
    pool = [Candidate(f"c{i}", keys) for i, keys in enumerate(candidates)]
    result = match_all([(f"s{i}", keys) for i, keys in enumerate(sources)], pool)
    matched = [found for found in result.values() if found not in (None, TAKEN)]
    assert len(matched) == len(set(matched))
    by_id = {c.id: c.keys for c in pool}
    to_create = []
    for i, keys in enumerate(sources):
        found = result[f"s{i}"]
        if found not in (None, TAKEN):
            assert set(keys.items()) & set(by_id[found].items())
        elif found is None:
            assert not any(set(keys.items()) & set(c.items()) for c in candidates)
            assert not any(set(keys.items()) & set(other.items()) for other in to_create)
            to_create.append(keys)


filter_values = st.one_of(st.none(), st.text(max_size=6), st.integers(-5, 5).map(str))


@given(value=filter_values, wanted=st.text(alphabet="ab1 ", min_size=1, max_size=4))
def test_filter_operators_agree_with_their_opposites(value, wanted):
    values = {"f": value}
    assert passes(Condition("f", "neq", wanted), values) == (not passes(Condition("f", "eq", wanted), values))
    if "," not in wanted and passes(Condition("f", "in", wanted), values):
        assert passes(Condition("f", "eq", wanted), values)  # one option: "is any of" implies "is equal to"
    assert passes(Condition("f", "known"), values) != passes(Condition("f", "unknown"), values)
