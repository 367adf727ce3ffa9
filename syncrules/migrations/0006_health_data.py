"""What the sync health pages read: record names and match keys on links, the why of each
outcome, when history was pruned; and the daily schedule that prunes old outcomes."""

from django.db import migrations, models

PRUNE_NAME = "syncrules: prune old record outcomes"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=PRUNE_NAME,
        defaults={"func": "syncrules.tasks.prune_outcomes", "schedule_type": "D", "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=PRUNE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("syncrules", "0004_deals_associations_deletions"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.AddField(
            model_name="objectsync",
            name="history_pruned_before",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="recordlink",
            name="match_key",
            field=models.CharField(
                blank=True, help_text="Lowercased email (contacts), domain or name (companies).", max_length=255
            ),
        ),
        migrations.AddField(
            model_name="recordlink",
            name="name_a",
            field=models.CharField(blank=True, max_length=200, verbose_name="name on side A"),
        ),
        migrations.AddField(
            model_name="recordlink",
            name="name_b",
            field=models.CharField(blank=True, max_length=200, verbose_name="name on side B"),
        ),
        migrations.AddField(
            model_name="recordoutcome",
            name="details",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddIndex(
            model_name="recordlink",
            index=models.Index(fields=["match_key", "object_sync"], name="recordlink_match_key_idx"),
        ),
        migrations.AddIndex(
            model_name="recordoutcome",
            index=models.Index(fields=["link", "action", "-created_at"], name="outcome_link_action_time_idx"),
        ),
        migrations.RunPython(create_schedule, remove_schedule),
    ]
