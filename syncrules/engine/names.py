"""Which fields name a record, and its display name and match key from them. Pure: no ORM.

The one place that knows which canonical DefaultField keys (connectors/*/defaults.py) hold a
record's name, email and domain. Record links keep a short name per side and a match key
(lowercased email for contacts, domain or else name for companies), computed from values the
engine has already read or written, so the health pages list and search records with no API
call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import COMPANIES, CONTACTS, DEALS, DefaultField
from syncrules.engine.filters import normalize_email
from syncrules.engine.match import normalize_domain, normalize_name

NAME_LENGTH = 200  # RecordLink.name_a / name_b
KEY_LENGTH = 255  # RecordLink.match_key

# object type -> the canonical keys a display name and a match key are read from
NAME_KEYS: dict[str, tuple[str, ...]] = {
    CONTACTS: ("first_name", "last_name", "email"),
    COMPANIES: ("name", "domain"),
    DEALS: ("deal_name",),
}


@dataclass(frozen=True)
class NameFields:
    """One app's field names for the canonical keys of NAME_KEYS (absent keys: not there)."""

    kind: str
    fields: Mapping[str, str]

    @classmethod
    def from_defaults(
        cls, kind: str, defaults: Mapping[str, str] | Iterable[DefaultField], known: Iterable[str] = ()
    ) -> NameFields:
        """From a connector's default fields (or {key: field}), keeping those the app has (`known`, when given)."""
        pairs = defaults.items() if isinstance(defaults, Mapping) else ((d.key, d.field) for d in defaults)
        known, wanted = set(known), NAME_KEYS.get(kind, ())
        return cls(kind, {key: name for key, name in pairs if key in wanted and (not known or name in known)})

    def value(self, values: Mapping[str, Any], key: str) -> str:
        field = self.fields.get(key)
        raw = values.get(field) if field else None
        return " ".join(str(raw).split()) if raw not in (None, "") else ""

    def display_name(self, values: Mapping[str, Any]) -> str:
        """'First Last' (or the email) for contacts, 'Name (domain)' for companies, the deal name."""
        if self.kind == CONTACTS:
            name = " ".join(p for p in (self.value(values, "first_name"), self.value(values, "last_name")) if p)
            return shorten(name or self.value(values, "email"), NAME_LENGTH)
        if self.kind == COMPANIES:
            name, domain = self.value(values, "name"), self.value(values, "domain")
            if name and domain:
                return shorten(name, NAME_LENGTH - len(domain[:60]) - 3) + f" ({domain[:60]})"
            return shorten(name or domain, NAME_LENGTH)
        return shorten(self.value(values, "deal_name"), NAME_LENGTH)

    def match_key(self, values: Mapping[str, Any]) -> str:
        """The lowercased email (contacts), the domain or else the name (companies); '' for deals."""
        if self.kind == CONTACTS:
            key = normalize_email(self.value(values, "email"))
        elif self.kind == COMPANIES:
            key = normalize_domain(self.value(values, "domain")) or normalize_name(self.value(values, "name"))
        else:
            key = ""
        return key[:KEY_LENGTH]


def shorten(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"
