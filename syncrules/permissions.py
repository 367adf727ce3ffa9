"""Who may do what with object syncs: one place that every admin page and action asks.

Pages and actions call these instead of naming permission codenames themselves, so a role's
rights change here (and in the role table), never in a view.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

User = AbstractBaseUser | AnonymousUser


def can_view_syncs(user: User) -> bool:
    return user.has_perm("syncrules.view_objectsync")


def can_edit_syncs(user: User) -> bool:
    """Set up syncs in the wizard and change their settings (mappings, filters, pipelines)."""
    return user.has_perm("syncrules.add_objectsync") and user.has_perm("syncrules.change_objectsync")


def can_delete_syncs(user: User) -> bool:
    return user.has_perm("syncrules.delete_objectsync")


def can_toggle_syncs(user: User) -> bool:
    """Turn syncs on and off (and so start their first run)."""
    return user.has_perm("syncrules.toggle_objectsync")


def can_run_syncs(user: User) -> bool:
    """Run a sync now."""
    return user.has_perm("syncrules.run_objectsync")


def can_view_records(user: User) -> bool:
    """Browse record links, runs and outcomes (the health pages)."""
    return user.has_perm("syncrules.view_recordlink")


def can_retry_records(user: User) -> bool:
    return user.has_perm("syncrules.run_objectsync")


def can_resync_records(user: User) -> bool:
    return user.has_perm("syncrules.run_objectsync")
