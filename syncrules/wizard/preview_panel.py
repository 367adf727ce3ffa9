"""The dry-run preview's result (PREVIEW_SHAPE.md) arranged for the Review page."""

from __future__ import annotations

from typing import Any

from syncrules.models import ObjectSync

EXCLUDED_REASONS = {
    "no_email": "no email address", "invalid_email": "invalid email address", "filter": "outside the filters",
    "unmapped_stage": "deal stage not mapped", "unmapped_pipeline": "pipeline not mapped",
}


def _count(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _issues(items: Any) -> list[dict]:
    """Failures or warnings, whatever the result holds: malformed entries are left out."""
    out = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            samples = [s for s in item.get("samples") or [] if isinstance(s, dict)][:5]
            out.append({"label": item.get("label") or item.get("category", ""), "hint": item.get("hint", ""),
                        "count": _count(item.get("count")), "field": item.get("field", ""), "samples": samples})
    return out


def side_view(result: dict, side: str, name: str, other: str) -> dict:
    figures = result.get(side) if isinstance(result.get(side), dict) else {}
    excluded = figures.get("excluded") if isinstance(figures.get("excluded"), dict) else {}
    return {
        "name": name,
        "figures": [
            (f"records read from {name}", _count(figures.get("read"))),
            (f"would be created in {name} (from {other})", _count(figures.get("create"))),
            (f"would be updated in {name}", _count(figures.get("update"))),
            ("linked or matched with nothing to write", _count(figures.get("unchanged"))),
        ],
        "excluded": [(EXCLUDED_REASONS.get(code, code.replace("_", " ")), _count(n)) for code, n in excluded.items()
                     if _count(n)],
        "failures": _issues(figures.get("failures")),
        "warnings": _issues(figures.get("warnings")),
    }


def preview_view(preview: Any, sync: ObjectSync) -> dict | None:
    """Both sides' figures, the matches and the duration of a finished preview."""
    if preview is None or preview.status != "done" or not isinstance(preview.result, dict):
        return None
    result = preview.result
    a, b = sync.connection_a.name, sync.connection_b.name
    samples = [s for s in result.get("match_samples") or [] if isinstance(s, dict)][:20]
    return {"sides": [side_view(result, "a", a, b), side_view(result, "b", b, a)],
            "matched": _count(result.get("matched")), "samples": samples,
            "duration": result.get("duration_seconds"), "http_calls": getattr(preview, "http_calls", None)}
