from pathlib import Path

import pytest

from ingest.consent import Action, ConsentPolicy, Signal, load_policy, pseudonym

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
POLICY = ConsentPolicy("analytics", frozenset({"analytics", "firebase"}), Action.PSEUDONYMISE, Action.DROP)


@pytest.mark.parametrize("record,signal", [
    ({"privacy_info": {"analytics_storage": "Yes"}}, Signal.GRANTED),
    ({"privacy_info": {"analytics_storage": "No"}}, Signal.DENIED),
    ({"privacy_info": {"analytics_storage": None}}, Signal.MISSING),
    ({"consent": {"accepted": ["Firebase"], "refused": []}}, Signal.GRANTED),
    ({"consent": {"accepted": ["hotjar"], "refused": ["firebase"]}}, Signal.DENIED),
    ({"consent": {"accepted": ["hotjar"]}}, Signal.MISSING),
    ({}, Signal.MISSING),
    ({"privacy_info": {"analytics_storage": "No"}, "consent": {"accepted": ["firebase"]}}, Signal.DENIED),
])
def test_signal(record, signal):
    assert POLICY.signal(record) is signal


def test_actions_follow_the_policy():
    assert POLICY.action({"privacy_info": {"analytics_storage": "Yes"}}) == (Signal.GRANTED, Action.KEEP)
    assert POLICY.action({"privacy_info": {"analytics_storage": "No"}})[1] is Action.PSEUDONYMISE
    assert POLICY.action({})[1] is Action.DROP


def test_pro_event_policy_file_drops_by_default_and_pro_log_is_exempt():
    policy = load_policy(SCHEMAS, "pro_event")
    assert policy.on_denied is Action.DROP and policy.on_missing is Action.DROP
    assert load_policy(SCHEMAS, "pro_log") is None


def test_pseudonym_is_keyed_and_rotates_daily():
    a = pseudonym("k1", "user-1", "2026-11-23")
    assert a == pseudonym("k1", "user-1", "2026-11-23")
    assert a != pseudonym("k1", "user-1", "2026-11-24")
    assert a != pseudonym("k2", "user-1", "2026-11-23")
    with pytest.raises(ValueError):
        pseudonym("", "user-1", "2026-11-23")
