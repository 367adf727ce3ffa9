"""The sync engine: read -> match -> merge -> write -> record outcomes.

Pure modules (no ORM): convert, filters, match, merge. ORM and orchestration: mappings, store,
api, and the run: runner (the page and retry loop) with linked, unlinked and writes (its steps
for records), steps (the table of per-object-type steps: associations, deletions, values'
re-evaluation), each seeing the run through context.RunContext; resync. No module imports
another in a cycle (tests/test_engine_imports.py). Apps are reached only through the connector
contract (connectors.base).
"""


def run_sync(object_sync_id: int, **kwargs):
    """Run one object sync once (see syncrules.engine.api.run_sync)."""
    from syncrules.engine.api import run_sync as run

    return run(object_sync_id, **kwargs)
