"""No input a client can send produces a 500: property-based fuzzing of the events endpoint."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.botclient import CUSTOMER

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
event_types = st.sampled_from(
    [
        "turn",
        "step",
        "commitment",
        "observation",
        "classification",
        "escalation",
        "csat",
        "customer_left",
        "takeback",
        "bogus",
    ]
)
roles = st.sampled_from(["customer", "bot", "agent", None])


@st.composite
def near_valid_events(draw):
    """Events that are mostly well-formed, so fuzzing reaches the services rather than the schema only."""
    data = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "role": roles,
                "text": st.text(max_size=200),
                "action": st.text(max_size=20),
                "outcome": st.sampled_from(["succeeded", "failed", "pending", "maybe"]),
                "key": st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True),
                "value": json_values,
                "confidence": st.floats(min_value=-1, max_value=2, allow_nan=False),
                "issue_type": st.text(max_size=20),
                "complexity": st.sampled_from(["low", "medium", "high", "extreme"]),
                "reason": st.text(max_size=50),
                "reason_code": st.sampled_from(["customer_request", "other", "nope"]),
                "urgency": st.sampled_from(["low", "normal", "high", "critical", "meh"]),
                "score": st.integers(min_value=-2, max_value=8),
                "phase": st.sampled_from(["bot", "human", "x"]),
                "due": st.sampled_from(["2026-11-20", "2026-11-20T10:00:00Z", "tomorrow", None]),
                "note": st.text(max_size=30),
                "callback": st.fixed_dictionaries(
                    {"text": st.text(max_size=30)},
                    optional={"due": st.sampled_from(["2026-12-01", "soon", None]), "kind": roles},
                ),
                "transcript": st.lists(
                    st.fixed_dictionaries({"role": roles, "text": st.text(max_size=20)}), max_size=3
                ),
            },
        )
    )
    body = {
        "type": draw(event_types),
        "conversation_id": draw(st.sampled_from(["c-1", "c-2", "", "x" * 250])),
        "data": data,
    }
    if draw(st.booleans()):
        body["customer"] = draw(st.sampled_from([CUSTOMER, {"id": ""}, {"name": "no id"}, {"id": "u-2"}]))
    if draw(st.booleans()):
        body["occurred_at"] = draw(
            st.sampled_from(["2026-11-20T10:00:00Z", "yesterday", "2026-11-20T10:00:00"])
        )
    return body


payloads = (
    near_valid_events()
    | st.fixed_dictionaries({"events": st.lists(near_valid_events(), max_size=4)})
    | json_values
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=payloads)
def test_events_endpoint_never_answers_500(bot_client, payload):
    response = bot_client.post(payload)
    assert response.status_code in {200, 201, 400, 409, 413, 422}, response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_answer_500(bot_client, raw):
    response = bot_client.post_raw(raw)
    assert response.status_code in {400, 422}, response.content


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#"),
        min_size=1,
        max_size=40,
    )
)
def test_signed_gets_with_arbitrary_ids_never_answer_500(bot_client, path):
    for prefix in ("/conversations/", "/handoffs/", "/customers/"):
        suffix = "/self-model" if prefix == "/customers/" else ""
        response = bot_client.get(prefix + path + suffix)
        assert response.status_code in {200, 404}, (prefix, path, response.content)
    json.dumps(path)
