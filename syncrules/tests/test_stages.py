"""Deal stage auto-map on realistic stage lists, and translation both ways."""

from hypothesis import given
from hypothesis import strategies as st

from connectors.base import Stage
from syncrules.stages import auto_map, invert, similarity, translate, words

HUBSPOT_DEFAULT = [
    Stage("appointmentscheduled", "Appointment Scheduled", 0),
    Stage("qualifiedtobuy", "Qualified To Buy", 1),
    Stage("presentationscheduled", "Presentation Scheduled", 2),
    Stage("decisionmakerboughtin", "Decision Maker Bought-In", 3),
    Stage("contractsent", "Contract Sent", 4),
    Stage("closedwon", "Closed Won", 5, closed=True, won=True),
    Stage("closedlost", "Closed Lost", 6, closed=True, won=False),
]
SALESFORCE_DEFAULT = [
    Stage("Prospecting", "Prospecting", 1),
    Stage("Qualification", "Qualification", 2),
    Stage("Needs Analysis", "Needs Analysis", 3),
    Stage("Value Proposition", "Value Proposition", 4),
    Stage("Id. Decision Makers", "Id. Decision Makers", 5),
    Stage("Perception Analysis", "Perception Analysis", 6),
    Stage("Proposal/Price Quote", "Proposal/Price Quote", 7),
    Stage("Negotiation/Review", "Negotiation/Review", 8),
    Stage("Closed Won", "Closed Won", 9, closed=True, won=True),
    Stage("Closed Lost", "Closed Lost", 10, closed=True, won=False),
]


def as_dict(pairs):
    return {p.a.id: p.b.id for p in pairs}


def test_it_maps_hubspots_default_pipeline_onto_salesforces_default_stages():
    mapping = as_dict(auto_map(HUBSPOT_DEFAULT, SALESFORCE_DEFAULT))
    assert mapping["closedwon"] == "Closed Won"
    assert mapping["closedlost"] == "Closed Lost"
    assert mapping["qualifiedtobuy"] == "Qualification"
    assert mapping["decisionmakerboughtin"] == "Id. Decision Makers"
    # Nothing in Salesforce's list resembles these: a person chooses.
    assert "appointmentscheduled" not in mapping
    assert "contractsent" not in mapping


def test_it_pairs_the_same_words_whatever_the_case_or_spacing():
    a = [Stage("1", "Appointment scheduled")]
    b = [Stage("x", "Appointment  Scheduled"), Stage("y", "Appointment cancelled")]
    assert as_dict(auto_map(a, b)) == {"1": "x"}


def test_it_pairs_closed_won_with_won():
    a = [Stage("cw", "Closed Won", closed=True, won=True), Stage("cl", "Closed Lost", closed=True)]
    b = [Stage("w", "Won", closed=True, won=True), Stage("l", "Lost", closed=True)]
    assert as_dict(auto_map(a, b)) == {"cw": "w", "cl": "l"}


def test_it_never_pairs_a_won_stage_with_a_lost_one_even_if_named_alike():
    a = [Stage("cw", "Closed", closed=True, won=True)]
    b = [Stage("cl", "Closed", closed=True, won=False)]
    assert auto_map(a, b) == []


def test_it_proposes_each_stage_at_most_once_on_each_side():
    a = [Stage("1", "Demo"), Stage("2", "Demo booked")]
    b = [Stage("x", "Demo")]
    pairs = auto_map(a, b)
    assert [(p.a.id, p.b.id) for p in pairs] == [("1", "x")]


def test_similarity_ignores_punctuation_and_plurals():
    assert words("Id. Decision Makers") == ["decision", "maker"]
    assert similarity("Decision Maker Bought-In", "Id. Decision Makers") > 0.5
    assert similarity("Prospecting", "Closed Lost") == 0.0


def test_translation_goes_both_ways_and_says_when_a_stage_is_unmapped():
    mapping = {"closedwon": "Closed Won", "qualifiedtobuy": "Qualification"}
    assert translate("closedwon", mapping) == "Closed Won"
    assert translate("appointmentscheduled", mapping) is None
    assert translate("Qualification", invert(mapping)) == "qualifiedtobuy"


labels = st.text(alphabet=st.sampled_from("abcdefgh -/."), min_size=1, max_size=20)


@given(st.lists(labels, min_size=1, max_size=8), st.lists(labels, min_size=1, max_size=8))
def test_auto_map_is_always_one_to_one(labels_a, labels_b):
    a = [Stage(f"a{i}", label, i) for i, label in enumerate(labels_a)]
    b = [Stage(f"b{i}", label, i) for i, label in enumerate(labels_b)]
    pairs = auto_map(a, b)
    assert len({p.a.id for p in pairs}) == len(pairs) == len({p.b.id for p in pairs})
    assert all(p.score >= 0.5 for p in pairs)


@given(labels, labels)
def test_similarity_is_symmetric_and_bounded(x, y):
    assert 0.0 <= similarity(x, y) <= 1.0
    assert similarity(x, y) == similarity(y, x)
