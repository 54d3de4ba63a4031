"""Scale: drop the six single-column foreign-key indexes on Order and DeviceEvent that a
composite index already starts with, and index a plate's orders newest first (the citizen
"my orders" list and a plate's arrears)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("parking", "0013_statistics")]

    operations = [
        migrations.AlterField(
            model_name="deviceevent",
            name="device",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="events",
                to="parking.device",
                verbose_name="设备",
            ),
        ),
        migrations.AlterField(
            model_name="deviceevent",
            name="district",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="parking_events",
                to="core.district",
                verbose_name="所属区",
            ),
        ),
        migrations.AlterField(
            model_name="deviceevent",
            name="space",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="events",
                to="parking.space",
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="district",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="parking_orders",
                to="core.district",
                verbose_name="所属区",
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="plate",
            field=models.CharField(blank=True, max_length=12, verbose_name="车牌号"),
        ),
        migrations.AlterField(
            model_name="order",
            name="segment",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="orders",
                to="parking.segment",
                verbose_name="路段",
            ),
        ),
        migrations.AlterField(
            model_name="order",
            name="space",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="orders",
                to="parking.space",
                verbose_name="泊位",
            ),
        ),
        # Dropping space_id's own index, Django's schema editor also drops every other
        # single-column index on space_id — including the partial unique index behind
        # parking_order_one_open_per_space (PostgreSQL). Put it back (a no-op where it survived).
        migrations.RunSQL(
            sql='CREATE UNIQUE INDEX IF NOT EXISTS "parking_order_one_open_per_space" '
            """ON "parking_order" ("space_id") WHERE "state" = 'open'""",
            reverse_sql=migrations.RunSQL.noop,
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["plate", "-started_at", "-id"], name="parking_order_plate_started"),
        ),
    ]
