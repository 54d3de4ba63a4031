"""The remaining parking facts in the lake: a change stamp (``updated_at``) on the arrears
records, reminders and receipts, and an index on ``updated_at`` of every table the exporter
reads incrementally (parking/lake/sync.py)."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce


def stamp_existing(apps, schema_editor):
    """Existing rows: their last known change time, not the migration's."""
    apps.get_model("parking", "ArrearsRecord").objects.update(
        updated_at=Coalesce(F("decided_at"), F("settled_at"), F("created_at"))
    )
    apps.get_model("parking", "ReminderLog").objects.update(updated_at=F("sent_at"))
    apps.get_model("parking", "Receipt").objects.update(updated_at=Coalesce(F("voided_at"), F("issued_at")))


class Migration(migrations.Migration):
    dependencies = [
        ("parking", "0017_lake"),
    ]

    operations = [
        migrations.AddField(
            model_name="arrearsrecord",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="reminderlog",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="receipt",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.RunPython(stamp_existing, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="arrearsrecord",
            index=models.Index(fields=["updated_at"], name="parking_arrears_updated"),
        ),
        migrations.AddIndex(
            model_name="reminderlog",
            index=models.Index(fields=["updated_at"], name="parking_reminder_updated"),
        ),
        migrations.AddIndex(
            model_name="penaltycase",
            index=models.Index(fields=["updated_at"], name="parking_penalty_updated"),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(fields=["updated_at"], name="parking_complaint_updated"),
        ),
        migrations.AddIndex(
            model_name="residentialpermit",
            index=models.Index(fields=["updated_at"], name="parking_permit_updated"),
        ),
        migrations.AddIndex(
            model_name="receipt",
            index=models.Index(fields=["updated_at"], name="parking_receipt_updated"),
        ),
    ]
