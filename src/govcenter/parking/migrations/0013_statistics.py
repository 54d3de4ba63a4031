import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0003_personal_data_validators"), ("parking", "0012_permits")]

    operations = [
        migrations.CreateModel(
            name="DailyDistrictStat",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("date", models.DateField(verbose_name="统计日期")),
                ("orders", models.PositiveIntegerField(default=0, verbose_name="订单数")),
                ("sessions", models.PositiveIntegerField(default=0, verbose_name="完成停车次数")),
                ("amount_due_fen", models.BigIntegerField(default=0, verbose_name="应收（分）")),
                ("amount_paid_fen", models.BigIntegerField(default=0, verbose_name="实收（分）")),
                ("arrears_orders", models.PositiveIntegerField(default=0, verbose_name="欠费订单数")),
                ("arrears_fen", models.BigIntegerField(default=0, verbose_name="欠费金额（分）")),
                ("available_seconds", models.BigIntegerField(default=0, verbose_name="可用泊位时长（秒）")),
                ("occupied_seconds", models.BigIntegerField(default=0, verbose_name="占用泊位时长（秒）")),
                ("unknown_seconds", models.BigIntegerField(default=0, verbose_name="未知泊位时长（秒）")),
                ("dwell_seconds", models.BigIntegerField(default=0, verbose_name="停车总时长（秒）")),
                ("computed_at", models.DateTimeField(auto_now=True, verbose_name="计算时间")),
                ("complaints", models.PositiveIntegerField(default=0, verbose_name="投诉数")),
                ("new_arrears_orders", models.PositiveIntegerField(default=0, verbose_name="新增欠费订单数")),
                ("new_arrears_fen", models.BigIntegerField(default=0, verbose_name="新增欠费金额（分）")),
                ("penalty_cases", models.PositiveIntegerField(default=0, verbose_name="处罚立案数")),
                (
                    "district",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="parking_daily_stats",
                        to="core.district",
                        verbose_name="所属区",
                    ),
                ),
            ],
            options={
                "verbose_name": "区每日统计",
                "verbose_name_plural": "区每日统计",
                "ordering": ["-date", "district__sort_order"],
                "indexes": [models.Index(fields=["district", "date"], name="parking_dai_distric_68f2f9_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("date", "district"), name="parking_dailydistrictstat_unique"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="DailySegmentStat",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("date", models.DateField(verbose_name="统计日期")),
                ("orders", models.PositiveIntegerField(default=0, verbose_name="订单数")),
                ("sessions", models.PositiveIntegerField(default=0, verbose_name="完成停车次数")),
                ("amount_due_fen", models.BigIntegerField(default=0, verbose_name="应收（分）")),
                ("amount_paid_fen", models.BigIntegerField(default=0, verbose_name="实收（分）")),
                ("arrears_orders", models.PositiveIntegerField(default=0, verbose_name="欠费订单数")),
                ("arrears_fen", models.BigIntegerField(default=0, verbose_name="欠费金额（分）")),
                ("available_seconds", models.BigIntegerField(default=0, verbose_name="可用泊位时长（秒）")),
                ("occupied_seconds", models.BigIntegerField(default=0, verbose_name="占用泊位时长（秒）")),
                ("unknown_seconds", models.BigIntegerField(default=0, verbose_name="未知泊位时长（秒）")),
                ("dwell_seconds", models.BigIntegerField(default=0, verbose_name="停车总时长（秒）")),
                ("computed_at", models.DateTimeField(auto_now=True, verbose_name="计算时间")),
                ("events", models.PositiveIntegerField(default=0, verbose_name="设备事件数")),
                ("hourly", models.JSONField(default=dict, verbose_name="分小时数据")),
                (
                    "district",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.district",
                        verbose_name="所属区",
                    ),
                ),
                (
                    "segment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="daily_stats",
                        to="parking.segment",
                        verbose_name="路段",
                    ),
                ),
            ],
            options={
                "verbose_name": "路段每日统计",
                "verbose_name_plural": "路段每日统计",
                "ordering": ["-date", "segment"],
                "indexes": [models.Index(fields=["district", "date"], name="parking_dai_distric_1f830e_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("date", "segment"), name="parking_dailysegmentstat_unique"
                    )
                ],
            },
        ),
    ]
