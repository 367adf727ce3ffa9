"""Deal stage auto-map and translation (FEATURES F3.1-F3.3): pure functions on plain data.

Auto-map proposes stage pairs whose labels are alike ("Closed Won" ~ "Won", "Qualified to buy"
~ "Qualification"), never pairs a won stage with a lost one, and proposes each stage at most
once on either side so that translation works in both directions. Stages it cannot pair stay
unmapped for a person to choose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from connectors.base import Stage

# Words that carry no meaning for matching stage names.
_STOP = {"the", "a", "an", "to", "of", "in", "and", "or", "for", "stage", "id"}
_STEM = 5  # "qualified" and "qualification" share "quali"+"f": compare word prefixes of this length


@dataclass(frozen=True)
class StagePair:
    a: Stage
    b: Stage
    score: float


def words(label: str) -> list[str]:
    """Lower-case words of a label without punctuation, stop words or plural endings."""
    tokens = re.findall(r"[a-z0-9]+", label.lower())
    out = []
    for token in tokens:
        if token in _STOP:
            continue
        if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
            token = token[:-1]
        out.append(token)
    return out


def _word_match(x: str, y: str) -> bool:
    if x == y:
        return True
    return len(x) >= _STEM and len(y) >= _STEM and x[:_STEM] == y[:_STEM]


def similarity(label_a: str, label_b: str) -> float:
    """How alike two stage labels are, from 0 (nothing shared) to 1 (the same words)."""
    wa, wb = words(label_a), words(label_b)
    if not wa or not wb:
        return 0.0
    if wa == wb:
        return 1.0
    shared_a = sum(1 for x in wa if any(_word_match(x, y) for y in wb))
    shared_b = sum(1 for y in wb if any(_word_match(x, y) for x in wa))
    if not shared_a:
        return 0.0
    # Containment of the shorter label in the longer one ("Won" in "Closed Won") counts most;
    # the character ratio breaks ties and catches small spelling differences.
    containment = max(shared_a / len(wa), shared_b / len(wb))
    overlap = (shared_a + shared_b) / (len(wa) + len(wb))
    ja, jb = " ".join(wa), " ".join(wb)
    # SequenceMatcher is not symmetric; average both orders so similarity(a, b) == similarity(b, a).
    chars = (SequenceMatcher(None, ja, jb).ratio() + SequenceMatcher(None, jb, ja).ratio()) / 2
    return round(0.45 * containment + 0.35 * overlap + 0.2 * chars, 4)


def _outcome(stage: Stage) -> str:
    if not stage.closed:
        return "open"
    return "won" if stage.won else "lost"


def pair_score(a: Stage, b: Stage) -> float:
    """Similarity adjusted by what the stages mean: a won stage never pairs with a lost one."""
    oa, ob = _outcome(a), _outcome(b)
    if {oa, ob} == {"won", "lost"}:
        return 0.0
    score = similarity(a.label, b.label)
    if oa == ob and oa != "open":
        score = min(1.0, score + 0.3)  # both closed the same way: a strong hint
    elif (oa == "open") != (ob == "open"):
        score *= 0.5  # an open stage is rarely the same as a closed one
    return score


def auto_map(
    stages_a: Sequence[Stage], stages_b: Sequence[Stage], threshold: float = 0.5
) -> list[StagePair]:
    """Propose one-to-one stage pairs, best first, leaving the doubtful ones out."""
    candidates = [
        StagePair(a, b, pair_score(a, b)) for a in stages_a for b in stages_b
    ]
    candidates.sort(key=lambda p: (-p.score, p.a.order, p.b.order))
    used_a: set[str] = set()
    used_b: set[str] = set()
    chosen = []
    for pair in candidates:
        if pair.score < threshold:
            break
        if pair.a.id in used_a or pair.b.id in used_b:
            continue
        used_a.add(pair.a.id)
        used_b.add(pair.b.id)
        chosen.append(pair)
    chosen.sort(key=lambda p: p.a.order)
    return chosen


def translate(stage_id: str, mapping: Mapping[str, str]) -> str | None:
    """The mapped stage for `stage_id`, or None when the stage is not mapped (the deal then
    stops syncing with an 'unmapped stage' outcome)."""
    return mapping.get(stage_id)


def invert(mapping: Mapping[str, str]) -> dict[str, str]:
    """B -> A from A -> B; where several A stages share one B stage the first one wins."""
    inverse: dict[str, str] = {}
    for a, b in mapping.items():
        inverse.setdefault(b, a)
    return inverse
