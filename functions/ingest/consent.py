"""Where consent is decided: each contract declares its policy in ``schemas/<contract>/consent.json``.

A contract without a policy file is exempt (pro_log: legitimate interest, exhaustive by
design). The policy maps the record's consent signal — granted, denied or missing — to an
action: keep the row, drop it (counted), or pseudonymise it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Any

from ingest.contracts import contract_file


class Signal(Enum):
    GRANTED = "granted"
    DENIED = "denied"
    MISSING = "missing"


class Action(Enum):
    KEEP = "keep"
    DROP = "drop"
    PSEUDONYMISE = "pseudonymise"


_YES = frozenset({"yes", "granted", "true", "1"})
_NO = frozenset({"no", "denied", "false", "0"})


@dataclass(frozen=True)
class ConsentPolicy:
    purpose: str
    granted_purposes: frozenset[str]
    on_denied: Action
    on_missing: Action
    storage_key: str = field(init=False)
    """The ``privacy_info`` field of the purpose (``analytics_storage``), named once, not per record."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "storage_key", f"{self.purpose}_storage")

    def signal(self, record: dict[str, Any]) -> Signal:
        """GA4's privacy_info wins over a consent object; anything unrecognised is missing.

        Read before the record is validated (a refusal is honoured even for an invalid record),
        so every shape of input must give a signal, never an error."""
        privacy = record.get("privacy_info")
        storage = privacy.get(self.storage_key) if isinstance(privacy, dict) else None
        if isinstance(storage, str):
            lowered = storage.strip().lower()
            if lowered in _YES:
                return Signal.GRANTED
            if lowered in _NO:
                return Signal.DENIED
        consent = record.get("consent")
        if isinstance(consent, dict):
            if self.granted_purposes & _purposes(consent.get("accepted")):
                return Signal.GRANTED
            if self.granted_purposes & _purposes(consent.get("refused")):
                return Signal.DENIED
        return Signal.MISSING

    def action(self, record: dict[str, Any]) -> tuple[Signal, Action]:
        signal = self.signal(record)
        if signal is Signal.GRANTED:
            return signal, Action.KEEP
        return signal, self.on_denied if signal is Signal.DENIED else self.on_missing


def _purposes(listed: Any) -> set[str]:
    return {p.lower() for p in listed if isinstance(p, str)} if isinstance(listed, list) else set()


@lru_cache(maxsize=None)
def load_policy(schemas_dir: Path, contract: str) -> ConsentPolicy | None:
    """The contract's policy, validated; None when the contract is exempt."""
    if not (schemas_dir / contract / "consent.json").is_file():
        return None
    spec = contract_file(schemas_dir, contract, "consent.json")
    allowed = {Action.DROP.value, Action.PSEUDONYMISE.value}
    for key in ("on_denied", "on_missing"):
        if spec.get(key) not in allowed:
            raise ValueError(f"{contract}/consent.json: {key} must be one of {sorted(allowed)}")
    return ConsentPolicy(
        purpose=spec["purpose"],
        granted_purposes=frozenset(p.lower() for p in spec["granted_purposes"]),
        on_denied=Action(spec["on_denied"]),
        on_missing=Action(spec["on_missing"]),
    )


def check_policies(schemas_dir: Path, contracts: tuple[str, ...], pseudonymisation_key: str) -> None:
    """Fail at start-up, not on the first denied record, when a policy is invalid or needs a key
    that is not configured."""
    for contract in contracts:
        policy = load_policy(schemas_dir, contract)
        if policy and Action.PSEUDONYMISE in (policy.on_denied, policy.on_missing) and not pseudonymisation_key:
            raise ValueError(f"{contract}/consent.json pseudonymises but PSEUDONYMISATION_KEY is not set")


def pseudonym(key: str, value: str, day: str) -> str:
    """Keyed hash that changes every day, so a pseudonymised person cannot be followed
    across days, and that nobody without the key can recompute from a known id."""
    if not key:
        raise ValueError("PSEUDONYMISATION_KEY is required by a policy that pseudonymises")
    return hmac.new(key.encode(), f"{day}:{value}".encode(), hashlib.sha256).hexdigest()[:32]
