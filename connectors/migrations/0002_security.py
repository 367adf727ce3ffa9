"""Connection options checked against their schema; used OAuth states; errors stored before
the HTTP layer redacted them lose any credential they hold (HubSpot's token-info path)."""

import connectors.jsonfields
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from connectors.http import redact


def redact_stored_errors(apps, schema_editor):  # noqa: ARG001
    Connection = apps.get_model("connectors", "Connection")
    for pk, text in Connection.objects.exclude(last_error="").values_list("pk", "last_error"):
        cleaned = redact(text)
        if cleaned != text:
            Connection.objects.filter(pk=pk).update(last_error=cleaned)


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='connection',
            name='options',
            field=connectors.jsonfields.StrictJSONField(blank=True, default=dict, help_text='Connector settings, e.g. the API share allocated.', validators=[connectors.jsonfields.ObjectSchema('connection_options')]),
        ),
        migrations.CreateModel(
            name='OAuthStateUse',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('digest', models.CharField(max_length=64, unique=True)),
                ('used_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('connection', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='connectors.connection')),
            ],
            options={
                'verbose_name': 'used OAuth state',
            },
        ),
        migrations.RunPython(redact_stored_errors, migrations.RunPython.noop),
    ]
