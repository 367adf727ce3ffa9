"""Create the three roles of FEATURES.md as groups: Sync admins, Sync editors, Support."""

from django.db import migrations

CONFIG = ("syncrules", "connectors")
SYNC_SETTINGS = ["objectsync", "fieldmapping", "syncfilter", "pipelinemapping", "stagemapping"]
LOGS = ["recordlink", "syncrun", "recordoutcome"]


def _codenames(actions, models):
    return [f"{action}_{model}" for action in actions for model in models]


ROLES = {
    "Sync admins": None,  # every permission of both apps
    "Sync editors": (
        _codenames(["add", "change", "delete", "view"], SYNC_SETTINGS)
        + _codenames(["view"], LOGS)
        + ["view_connection", "run_objectsync"]
    ),
    "Support": (
        _codenames(["view"], SYNC_SETTINGS + LOGS) + ["view_connection", "run_objectsync"]
    ),
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after migrate; make sure they exist now.
    from django.contrib.auth.management import create_permissions

    for label in CONFIG:
        app_config = apps.get_app_config(label)
        app_config.models_module = True  # the migration state's stub lacks it
        create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=CONFIG)
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = ours if codenames is None else ours.filter(codename__in=codenames)
        group.permissions.set(perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("syncrules", "0001_initial"),
        ("connectors", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
