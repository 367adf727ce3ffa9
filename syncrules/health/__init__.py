"""Sync health: the overview, errored records with their fixes, the record view, each record's
story and the run charts (FEATURES.md F7). Aggregates live in `queries`, views stay thin."""
