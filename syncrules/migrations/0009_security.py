"""Separate permissions for run now, retry and resync; roles from syncrules.permissions.ROLES;
strict JSON fields; only the object types the engine syncs; a minimum sync interval."""

import django.core.validators
from django.db import migrations, models

import connectors.jsonfields
import syncrules.models
from syncrules.permissions import apply_roles


def roles_from_table(apps, schema_editor):  # noqa: ARG001
    apply_roles(apps)


class Migration(migrations.Migration):

    dependencies = [
        ('syncrules', '0008_health_indexes'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='objectsync',
            options={'ordering': ['name', 'pk'], 'permissions': [('toggle_objectsync', 'Can turn object syncs on and off'), ('run_objectsync', 'Can run object syncs now'), ('retry_objectsync', 'Can retry failed records'), ('resync_objectsync', 'Can resync deleted records')], 'verbose_name': 'object sync'},
        ),
        migrations.AlterField(
            model_name='fieldmapping',
            name='value_map',
            field=connectors.jsonfields.StrictJSONField(blank=True, default=dict, help_text='Enumeration options: {"a_to_b": {"A value": "B value"}, "b_to_a": {...}}.', validators=[connectors.jsonfields.ObjectSchema('value_map')]),
        ),
        migrations.AlterField(
            model_name='objectsync',
            name='interval_seconds',
            field=models.PositiveIntegerField(default=syncrules.models.default_interval, validators=[django.core.validators.MinValueValidator(10)]),
        ),
        migrations.AlterField(
            model_name='objectsync',
            name='object_type',
            field=models.CharField(choices=[('companies', 'Companies'), ('contacts', 'Contacts'), ('deals', 'Deals')], db_index=True, max_length=40),
        ),
        migrations.AlterField(
            model_name='objectsync',
            name='options',
            field=connectors.jsonfields.StrictJSONField(blank=True, default=dict, validators=[connectors.jsonfields.ObjectSchema('sync_options')]),
        ),
        migrations.AlterField(
            model_name='recordlink',
            name='error_category',
            field=models.CharField(blank=True, choices=[('invalid_property_value', "Property value isn't valid"), ('missing_required_field', 'Missing required field'), ('type_mismatch', 'Type mismatch'), ('value_too_long', 'Value too long'), ('duplicate_record', 'Duplicate record'), ('association_failed', 'Association failed'), ('waiting_for_dependency', 'Waiting for a dependency'), ('permission_denied', 'Permission denied'), ('authentication_expired', 'Authentication expired'), ('credentials_unreadable', 'Credentials cannot be read'), ('rate_limited', 'Rate limited'), ('api_limit_reached', 'API allocation used up'), ('record_deleted', 'Record deleted in the other app'), ('record_locked', 'Record locked'), ('automation_rejected', "Rejected by the app's automation"), ('unmapped_stage', 'Unmapped stage'), ('app_unavailable', 'App unavailable'), ('malformed_response', 'Malformed response'), ('unknown', 'Unknown error')], max_length=40),
        ),
        migrations.AlterField(
            model_name='recordoutcome',
            name='category',
            field=models.CharField(blank=True, choices=[('invalid_property_value', "Property value isn't valid"), ('missing_required_field', 'Missing required field'), ('type_mismatch', 'Type mismatch'), ('value_too_long', 'Value too long'), ('duplicate_record', 'Duplicate record'), ('association_failed', 'Association failed'), ('waiting_for_dependency', 'Waiting for a dependency'), ('permission_denied', 'Permission denied'), ('authentication_expired', 'Authentication expired'), ('credentials_unreadable', 'Credentials cannot be read'), ('rate_limited', 'Rate limited'), ('api_limit_reached', 'API allocation used up'), ('record_deleted', 'Record deleted in the other app'), ('record_locked', 'Record locked'), ('automation_rejected', "Rejected by the app's automation"), ('unmapped_stage', 'Unmapped stage'), ('app_unavailable', 'App unavailable'), ('malformed_response', 'Malformed response'), ('unknown', 'Unknown error')], max_length=40),
        ),
        migrations.RunPython(roles_from_table, migrations.RunPython.noop),
    ]
