"""What the wizard reads from the two apps, read once per request and kept for that request.

Views build one AppData at their start, before anything is written or rendered; an app that is
down or answers garbage becomes `error` (a sentence), never an exception reaching the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from django.core.cache import cache

from connectors.base import DEALS, Connector, FieldSpec, Pipeline
from connectors.errors import ConnectorError
from syncrules.models import ObjectSync

SIDES = ("a", "b")


@dataclass
class AppData:
    """Fields (and deal pipelines) of both apps for one object sync."""

    sync: ObjectSync
    specs: dict[str, dict[str, FieldSpec]] = field(default_factory=lambda: {"a": {}, "b": {}})
    pipelines: dict[str, list[Pipeline]] = field(default_factory=lambda: {"a": [], "b": []})
    pipeline_errors: dict[str, str] = field(default_factory=dict)
    object_labels: dict[str, str] = field(default_factory=dict)
    type_names: dict[str, dict[str, str]] = field(default_factory=lambda: {"a": {}, "b": {}})
    deal_switch: dict[str, bool] = field(default_factory=dict)
    defaults: dict[str, list] = field(default_factory=lambda: {"a": [], "b": []})
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def name(self, side: str) -> str:
        return self.sync.connection(side).name

    def spec(self, side: str, name: str) -> FieldSpec | None:
        return self.specs[side].get(name)

    def label(self, side: str, name: str) -> str:
        spec = self.spec(side, name)
        return (spec.label or spec.name) if spec else name


def read_apps(sync: ObjectSync, *, pipelines: bool = False, cache_seconds: int = 0) -> AppData:
    """Read both apps' field lists (and pipelines when asked) for `sync`'s object type.

    `cache_seconds` keeps a successful read that long across requests: for pages that only show
    labels and refresh themselves (a sync's page while it runs), never for the wizard's steps.
    """
    # The connections' creation times keep a reused primary key from reading another's labels.
    stamps = [f"{c.pk}@{c.created_at.timestamp() if c.created_at else 0}" for c in (sync.connection_a, sync.connection_b)]
    key = f"wizard-apps:{':'.join(stamps)}:{sync.object_type}:{int(pipelines)}"
    kept = cache.get(key) if cache_seconds else None
    if kept is not None:
        return AppData(sync, **kept)
    data = _read(sync, pipelines)
    if cache_seconds and data.ok:
        cache.set(key, {f.name: getattr(data, f.name) for f in fields(AppData) if f.name not in ("sync", "error")},
                  cache_seconds)
    return data


def _read(sync: ObjectSync, pipelines: bool) -> AppData:
    data = AppData(sync)
    for side in SIDES:
        connection = sync.connection(side)
        try:
            connector = connection.connector()
        except Exception as exc:  # noqa: BLE001 - an unknown kind or broken credentials: a message
            data.error = f"{connection.name} cannot be reached: {exc}"
            return data
        try:
            _read_side(data, side, connector, pipelines)
        except (ConnectorError, OSError, ValueError, KeyError, TypeError) as exc:
            data.error = (f"{connection.name} could not be read ({exc}). Nothing was lost: check the connection "
                          f"and reload this page.")
            return data
        finally:
            connector.close()
    return data


def _read_side(data: AppData, side: str, connector: Connector, pipelines: bool) -> None:
    kind = data.sync.object_type
    data.specs[side] = {s.name: s for s in connector.fields(kind)}
    data.defaults[side] = list(connector.default_fields(kind))
    labels = {t.key: t.app_name for t in connector.object_types()}
    data.object_labels[side] = labels.get(kind, kind)
    data.type_names[side] = {key: name[:1].upper() + name[1:] for key, name in labels.items()}
    data.deal_switch[side] = bool(getattr(connector, "deal_switch", False))
    if pipelines and kind == DEALS:
        try:
            data.pipelines[side] = connector.pipelines(DEALS)
        except ConnectorError as exc:
            data.pipeline_errors[side] = str(exc)
