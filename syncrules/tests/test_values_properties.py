"""Property-based: any value of any type, into any type pair, under any policy, gives a value, a
warning or a failure exactly as the policy says; never an exception; a field that is not
carried never erases the target's value; and a value written and read back is no change."""

from datetime import UTC

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import FieldSpec, FieldType, Option
from syncrules.engine.convert import FAIL_RECORD, POLICIES, evaluate
from syncrules.engine.merge import FieldPair, plan_create, plan_link

T = FieldType
OPTIONS = (Option("RETAIL", "Retail"), Option("Technology", "Technology"), Option("Other", "Other"))
SPECS = [
    FieldSpec("text", "Text", T.TEXT),
    FieldSpec("short", "Short", T.TEXT, max_length=8),
    FieldSpec("number", "Number", T.NUMBER),
    FieldSpec("flag", "Flag", T.BOOL),
    FieldSpec("day", "Day", T.DATE),
    FieldSpec("moment", "Moment", T.DATETIME),
    FieldSpec("pick", "Pick", T.ENUMERATION, options=OPTIONS),
    FieldSpec("picks", "Picks", T.ENUMERATION, multi=True, options=OPTIONS),
]
VALUES = st.one_of(
    st.none(), st.text(max_size=20), st.integers(), st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(), st.booleans(), st.dates(), st.datetimes(timezones=st.just(UTC)),
    st.lists(st.sampled_from(["RETAIL", "Technology", "Other", "Nope"]), max_size=3),
    st.sampled_from(["RETAIL", "Other", "Nope", "1E+3", "2026-02-30", "true", "Technology;RETAIL"]),
)
specs = st.sampled_from(SPECS)
policies = st.sampled_from(POLICIES)


@settings(max_examples=400, deadline=None)
@given(VALUES, specs, specs, policies, st.sampled_from(["", "Other", "Missing"]), st.booleans())
def test_every_value_gives_a_value_a_warning_or_a_failure_as_the_policy_says(value, source, target, policy, fallback,
                                                                            can_add):
    result = evaluate(value, source, target, {"Nope": "Other"} if can_add else {}, policy=policy, fallback=fallback,
                      can_add_options=can_add)
    kinds = [result.failure is not None, result.warning is not None]
    assert sum(kinds) <= 1
    if policy == FAIL_RECORD:
        assert result.warning is None
    else:
        assert result.failure is None
    problem = result.failure or result.warning
    if problem is not None:
        assert result.value is None and problem.field == target.name and problem.message


@settings(max_examples=300, deadline=None)
@given(VALUES, VALUES, specs, specs, policies)
def test_a_field_not_carried_never_erases_and_a_written_value_reads_back_as_no_change(value, held, source, target,
                                                                                      policy):
    pair = FieldPair(f"{source.name}|{target.name}", source, target, policy=policy, fallback="Other",
                     add_options_on=frozenset({"b"}))
    values_a, values_b = {source.name: value}, {target.name: held}
    plan = plan_link([pair], {}, values_a, values_b, conflict_winner="a")
    if "b" in plan.errors or plan.warnings["b"]:
        assert target.name not in plan.writes["b"]  # the target keeps what it holds
    if target.name in plan.writes["b"]:
        written = {target.name: plan.writes["b"][target.name]}
        again = plan_link([pair], plan.last, values_a, written, conflict_winner="a")
        assert again.writes == {"a": {}, "b": {}}, (plan.writes, plan.last, again.last)
    created = plan_create([pair], values_a, "a")
    if target.name in created.writes["b"]:
        again = plan_link([pair], created.last, values_a, dict(created.writes["b"]))
        assert again.writes == {"a": {}, "b": {}}
