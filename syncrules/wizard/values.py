"""The enumeration value map editor of one mapping (F2.4): one row per option, a dropdown of the
other app's options, prefilled by suggestion; options left unmapped say what happens."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from syncrules.engine.mappings import suggest_options
from syncrules.models import ObjectSync
from syncrules.wizard.base import pick, refuse, render_step, step_url, wizard_view
from syncrules.wizard.mapping_rows import effective_flow, unmapped_consequence, unmapped_options
from syncrules.wizard.reading import read_apps

DIRECTIONS = (("a_to_b", "to_b"), ("b_to_a", "to_a"))


@wizard_view("configure")
def value_map_step(request: HttpRequest, sync: ObjectSync, mapping_id: int) -> HttpResponse:
    mapping = sync.field_mappings.filter(pk=mapping_id).first()
    if mapping is None:
        return refuse(request, "That mapping is not part of this sync.", to=step_url(sync, "configure"))
    data = read_apps(sync)
    spec_a, spec_b = data.spec("a", mapping.field_a), data.spec("b", mapping.field_b)
    if data.ok and not (spec_a and spec_b and spec_a.options and spec_b.options):
        return refuse(request, "Only a mapping between two dropdown fields has a value map.",
                      to=step_url(sync, "configure"))
    flow = effective_flow(sync, mapping, spec_a, spec_b) if data.ok else ""
    tables = _tables(data, mapping, spec_a, spec_b, flow) if data.ok else []
    if request.method == "POST" and data.ok:
        value_map = dict(mapping.value_map or {})
        for table in tables:
            allowed = {o.value for o in table["target"].options}
            chosen = {}
            for index, row in enumerate(table["rows"]):
                value = pick(request, f"{table['key']}_{index}")
                if value in allowed:
                    chosen[row["option"].value] = value
            value_map[table["key"]] = chosen
        mapping.value_map = value_map
        mapping.save(update_fields=["value_map"])
        messages.success(request, f"Value map of {data.label('a', mapping.field_a)} saved.")
        return redirect(step_url(sync, "configure"))
    return render_step(request, sync, "configure", "values.html", {
        "mapping": mapping, "tables": tables, "app_error": data.error, "consequence": unmapped_consequence(),
        "label_a": data.label("a", mapping.field_a), "label_b": data.label("b", mapping.field_b),
        "unmapped": unmapped_options(mapping, spec_a, spec_b, flow) if data.ok else {},
        "back_url": step_url(sync, "configure"),
    })


def _tables(data, mapping, spec_a, spec_b, flow) -> list[dict]:
    tables = []
    saved = mapping.value_map or {}
    for key, wanted in DIRECTIONS:
        if flow not in (wanted, "two_way"):
            continue
        source, target = (spec_a, spec_b) if key == "a_to_b" else (spec_b, spec_a)
        source_app, target_app = (data.name("a"), data.name("b")) if key == "a_to_b" else (data.name("b"), data.name("a"))
        suggested = suggest_options(source, target)
        # Suggestions fill a direction never saved; once saved, a blank choice stays blank.
        chosen = saved.get(key) if key in saved else suggested
        rows = [{"option": o, "chosen": chosen.get(o.value, ""),
                 "suggested": key not in saved and o.value in suggested} for o in source.options]
        tables.append({"key": key, "source": source, "target": target, "rows": rows,
                       "title": f"From {source_app} to {target_app}", "target_app": target_app})
    return tables


