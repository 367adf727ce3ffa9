"""The sync engine: read -> match -> merge -> write -> record outcomes.

Pure modules (no ORM): convert, filters, match, merge. ORM and orchestration: mappings, store,
runner, api. Apps are reached only through the connector contract (connectors.base).
"""


def run_sync(object_sync_id: int, **kwargs):
    """Run one object sync once (see syncrules.engine.api.run_sync)."""
    from syncrules.engine.api import run_sync as run

    return run(object_sync_id, **kwargs)
