"""Who may do what with object syncs: one place that every admin page and action asks.

Pages and actions call these instead of naming permission codenames themselves, so a role's
rights change here (and in the role table), never in a view.

ROLES is the one role table: migration 0009 gives each group exactly its permissions, the
README's role table is generated from it (`readme_role_table()`, checked by a test), and the
permission matrix test walks it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

User = AbstractBaseUser | AnonymousUser

APPS = ("syncrules", "connectors")
SYNC_SETTINGS = ("objectsync", "fieldmapping", "syncfilter", "pipelinemapping", "stagemapping")
LOGS = ("recordlink", "syncrun", "recordoutcome")

# Custom permissions of ObjectSync (its Meta lists the same codenames and names).
CUSTOM_PERMISSIONS = (
    ("toggle_objectsync", "Can turn object syncs on and off"),
    ("run_objectsync", "Can run object syncs now"),
    ("retry_objectsync", "Can retry failed records"),
    ("resync_objectsync", "Can resync deleted records"),
)


def _perms(actions: tuple[str, ...], models: tuple[str, ...], app: str = "syncrules") -> frozenset[str]:
    return frozenset(f"{app}.{action}_{model}" for action in actions for model in models)


@dataclass(frozen=True)
class Role:
    name: str  # the group's name
    can: str  # what the README says the role can do
    permissions: frozenset[str] | None  # "app.codename"; None: every permission of APPS


ROLES: tuple[Role, ...] = (
    Role(
        "Sync admins",
        "everything: connect apps, see and set credentials, create and edit syncs, turn syncs on and off, "
        "run them, retry and resync records",
        None,
    ),
    Role(
        "Sync editors",
        "create and edit object syncs, mappings and filters; see connections but never their credentials; "
        "run syncs now; retry failed records",
        _perms(("add", "change", "delete", "view"), SYNC_SETTINGS)
        | _perms(("view",), LOGS)
        | {"connectors.view_connection", "syncrules.run_objectsync", "syncrules.retry_objectsync"},
    ),
    Role(
        "Support",
        "view syncs, record links, runs and outcomes; retry failed records and resync deleted ones; "
        "change nothing",
        _perms(("view",), SYNC_SETTINGS + LOGS)
        | {"connectors.view_connection", "syncrules.retry_objectsync", "syncrules.resync_objectsync"},
    ),
)


def readme_role_table() -> str:
    """The README's role table, generated from ROLES."""
    rows = ["| group | can |", "|---|---|"] + [f"| {role.name} | {role.can} |" for role in ROLES]
    return "\n".join(rows) + "\n"


def apply_roles(apps) -> None:  # noqa: ANN001 - the migration's app registry
    """Give each role's group exactly the permissions ROLES lists (migrations call this)."""
    from django.contrib.auth.management import create_permissions

    for label in APPS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True  # the migration state's stub lacks it
        create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=APPS).select_related("content_type")
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role.name)
        chosen = [p for p in ours if role.permissions is None
                  or f"{p.content_type.app_label}.{p.codename}" in role.permissions]
        group.permissions.set(chosen)


# --- the questions pages ask ------------------------------------------------------------------
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
    """Retry failed records at the next run."""
    return user.has_perm("syncrules.retry_objectsync")


def can_resync_records(user: User) -> bool:
    """Recreate records deleted in one app from the other ("Resync deleted records")."""
    return user.has_perm("syncrules.resync_objectsync")


def can_call_apps(user: User) -> bool:
    """Make the apps' APIs answer questions from the admin (check prerequisites): it spends the
    connections' API allowance, so only those who set syncs up."""
    return can_edit_syncs(user)


def restore_role_groups() -> None:
    """Give the role groups their ROLES permissions again with the live models: for tests whose
    database was flushed (transactional tests remove what data migrations made)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for label in APPS:
        create_permissions(apps.get_app_config(label), verbosity=0)
    ours = list(Permission.objects.filter(content_type__app_label__in=APPS).select_related("content_type"))
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role.name)
        group.permissions.set([p for p in ours if role.permissions is None
                               or f"{p.content_type.app_label}.{p.codename}" in role.permissions])
