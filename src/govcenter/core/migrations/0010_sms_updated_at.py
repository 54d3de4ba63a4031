"""A change stamp on the SMS outbox rows: the parking lake exports the parking notices
incrementally by it (parking/lake/sync.py, data set ``sms``)."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce


def stamp_existing(apps, schema_editor):
    apps.get_model("core", "SmsMessage").objects.update(
        updated_at=Coalesce(F("delivered_at"), F("sent_at"), F("created_at"))
    )


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0009_search_title_upper_trgm"),
    ]

    operations = [
        migrations.AddField(
            model_name="smsmessage",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.RunPython(stamp_existing, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="smsmessage",
            index=models.Index(fields=["updated_at"], name="core_sms_updated"),
        ),
    ]
