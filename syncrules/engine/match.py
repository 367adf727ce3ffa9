"""Matching unlinked records against the other app (F2.7). Pure: no ORM.

Contacts match by email (case- and whitespace-insensitive). Companies match by name or by
domain: two records match if they share either, even when the other differs. Deals never match.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.base import COMPANIES, CONTACTS
from syncrules.engine.filters import is_valid_email, normalize_email

# Canonical DefaultField keys the engine matches on, per object type.
MATCH_KEYS: dict[str, tuple[str, ...]] = {CONTACTS: ("email",), COMPANIES: ("name", "domain")}


def normalize_name(value: Any) -> str:
    return " ".join(str(value or "").split()).casefold()


def normalize_domain(value: Any) -> str:
    text = str(value or "").strip().casefold()
    text = re.sub(r"^[a-z]+://", "", text).split("/")[0].split("?")[0]
    text = text.split("@")[-1]
    return text.removeprefix("www.").rstrip(".")


NORMALIZERS = {"email": normalize_email, "name": normalize_name, "domain": normalize_domain}


def match_values(key: str, value: Any) -> str:
    """The comparable form of a value of match key `key` ('' when it cannot be matched on)."""
    if key == "email" and not is_valid_email(value):
        return ""
    return NORMALIZERS[key](value)


def record_keys(values: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, str]:
    """{match key: normalised value} for the keys a record has; `fields` maps key -> field name."""
    keys = {}
    for key, field_name in fields.items():
        normal = match_values(key, values.get(field_name))
        if normal:
            keys[key] = normal
    return keys


@dataclass(frozen=True)
class Candidate:
    id: str
    keys: dict[str, str]


TAKEN = "taken"  # the only matching candidates are already linked to other records


@dataclass(frozen=True)
class Match:
    """A source's candidate (or TAKEN, or None) and the match key and value they share."""

    found: str | None
    key: str = ""
    value: str = ""


def match_all(
    sources: Iterable[tuple[str, Mapping[str, str]]], candidates: Sequence[Candidate], taken: Iterable[str] = ()
) -> dict[str, str | None]:
    """Pair each source (id, keys) with at most one candidate; see pair_all."""
    return {source_id: match.found for source_id, match in pair_all(sources, candidates, taken).items()}


def pair_all(
    sources: Iterable[tuple[str, Mapping[str, str]]], candidates: Sequence[Candidate], taken: Iterable[str] = ()
) -> dict[str, Match]:
    """Pair each source (id, keys) with at most one candidate; a candidate serves one source.

    A source takes the first free candidate, in id order, that shares any key with it. A source
    whose only candidates serve other sources gets TAKEN: creating it would make a duplicate in
    the other app. Sources with equal keys and no candidate get TAKEN after the first, for the
    same reason. Indexed by key: linear in the number of records.
    """
    used = set(taken)
    index: dict[tuple[str, str], list[str]] = defaultdict(list)
    for candidate in sorted(candidates, key=lambda c: c.id):
        for item in candidate.keys.items():
            index[item].append(candidate.id)
    to_create: set[tuple[str, str]] = set()
    result: dict[str, Match] = {}
    for source_id, keys in sources:
        items = [(k, v) for k, v in keys.items() if v]
        sharing = sorted({cid for item in items for cid in index.get(item, ())})
        found = next((cid for cid in sharing if cid not in used), None)
        if found is not None:
            used.add(found)
            key, value = next(item for item in items if found in index.get(item, ()))
            result[source_id] = Match(found, key, value)
            continue
        if sharing or any(item in to_create for item in items):
            found = TAKEN
        else:
            to_create.update(items)
        result[source_id] = Match(found)
    return result
