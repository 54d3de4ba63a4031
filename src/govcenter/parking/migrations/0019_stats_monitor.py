# Statistic 6 (data monitoring): change keys for the lake's anomalies and device_days data sets.

import django.utils.timezone
from django.db import migrations, models


def brin_received_at(apps, schema_editor):
    # The device_days exporter reads the events received since its watermark. Events are
    # appended with received_at = now, so a BRIN index (a few pages, next to no ingest cost)
    # finds them; PostgreSQL only (SQLite test databases scan their few rows).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS parking_deviceevent_received_brin "
            "ON parking_deviceevent USING brin (received_at)"
        )


def drop_brin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS parking_deviceevent_received_brin")


class Migration(migrations.Migration):

    dependencies = [
        ('parking', '0018_lake_facts'),
    ]

    operations = [
        migrations.AddField(
            model_name='parkinganomaly',
            name='updated_at',
            field=models.DateTimeField(auto_now=True, db_index=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='deviceofflineperiod',
            name='updated_at',
            field=models.DateTimeField(auto_now=True, db_index=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
        migrations.RunPython(brin_received_at, drop_brin),
    ]
