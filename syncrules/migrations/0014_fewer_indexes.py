# Every index of RecordLink and RecordOutcome is one more entry to write for each link or
# outcome a run saves (an update of a link changes updated_at, so PostgreSQL rewrites every index
# entry). These three served no query another index does not serve:
# - the outcomes' foreign keys' own indexes (object_sync, link): each is the first column of
#   composite indexes (outcome_sync_time_idx, outcome_sync_category_idx,
#   outcome_link_action_time_idx), which the filters, the cascade and SET NULL use as well;
# - recordlink_match_key_idx (match_key, object_sync): nothing looks a key up by equality; the
#   record view's prefix search uses recordlink_key_prefix_idx (which answers equality too).
# The links' own object_sync index stays: on SQLite it is (object_sync, id), the order the
# association sweep reads links in. The foreign keys' indexes are dropped by name, found by
# introspection: Django's AlterField would rebuild the table on SQLite and re-validate the
# foreign keys on PostgreSQL.

import django.db.models.deletion
from django.db import migrations, models

FOREIGN_KEYS = [("recordoutcome", "link"), ("recordoutcome", "object_sync")]


def single_column_indexes(schema_editor, model, column: str) -> list[str]:
    """The names of the plain indexes on `column` alone (not unique, not the key)."""
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [name for name, info in constraints.items()
            if info["index"] and not info["unique"] and not info["primary_key"] and info["columns"] == [column]]


def drop_foreign_key_indexes(apps, schema_editor):
    quote = schema_editor.quote_name
    for model_name, field_name in FOREIGN_KEYS:
        model = apps.get_model("syncrules", model_name)
        for name in single_column_indexes(schema_editor, model, model._meta.get_field(field_name).column):
            schema_editor.execute(f"DROP INDEX IF EXISTS {quote(name)}")


def create_foreign_key_indexes(apps, schema_editor):
    for model_name, field_name in FOREIGN_KEYS:
        model = apps.get_model("syncrules", model_name)
        field = model._meta.get_field(field_name)
        if not single_column_indexes(schema_editor, model, field.column):
            schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))


class Migration(migrations.Migration):

    dependencies = [
        ('syncrules', '0013_webhooks'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='recordlink',
            name='recordlink_match_key_idx',
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='recordoutcome',
                    name='link',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='outcomes', to='syncrules.recordlink'),
                ),
                migrations.AlterField(
                    model_name='recordoutcome',
                    name='object_sync',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='outcomes', to='syncrules.objectsync'),
                ),
            ],
            database_operations=[migrations.RunPython(drop_foreign_key_indexes, create_foreign_key_indexes)],
        ),
    ]
