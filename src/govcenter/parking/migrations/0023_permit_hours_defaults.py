from django.db import migrations, models

import govcenter.parking.models.permits


class Migration(migrations.Migration):
    dependencies = [("parking", "0022_stats_reports")]

    operations = [
        migrations.AlterField(
            model_name="residentialpermit",
            name="hours_start",
            field=models.TimeField(
                default=govcenter.parking.models.permits.default_hours_start, verbose_name="认证时段开始"
            ),
        ),
        migrations.AlterField(
            model_name="residentialpermit",
            name="hours_end",
            field=models.TimeField(
                default=govcenter.parking.models.permits.default_hours_end, verbose_name="认证时段结束"
            ),
        ),
    ]
