"""Arrears: arrears records, reminder log, penalty cases (models/arrears.py)."""

import django.db.models.deletion
import django_fsm
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("parking", "0009_receipts"), ("core", "0004_sms_templates")]

    operations = [
        migrations.CreateModel(
            name="PenaltyCase",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "number",
                    models.CharField(
                        blank=True, max_length=24, null=True, unique=True, verbose_name="案件编号"
                    ),
                ),
                ("plate", models.CharField(db_index=True, max_length=12, verbose_name="车牌号")),
                (
                    "state",
                    django_fsm.FSMField(
                        choices=[
                            ("created", "已立案"),
                            ("notified", "已通知"),
                            ("paid", "已补缴"),
                            ("closed", "已结案"),
                            ("appealed", "已申诉"),
                        ],
                        default="created",
                        max_length=10,
                        protected=True,
                        verbose_name="状态",
                    ),
                ),
                ("amount_fen", models.PositiveIntegerField(verbose_name="欠费金额（分）")),
                ("unpaid_fen", models.PositiveIntegerField(verbose_name="立案时未缴（分）")),
                ("fine_fen", models.PositiveIntegerField(verbose_name="罚款（分）")),
                ("order_count", models.PositiveIntegerField(verbose_name="订单数")),
                ("evidence", models.JSONField(default=list, verbose_name="证据")),
                ("window_ended_at", models.DateTimeField(verbose_name="补缴截止")),
                (
                    "notice_outcome",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("sent", "已发送"),
                            ("failed", "发送失败"),
                            ("no_contact", "无联系方式"),
                            ("disabled", "模板已停用"),
                        ],
                        max_length=12,
                        verbose_name="通知结果",
                    ),
                ),
                ("created_at", models.DateTimeField(verbose_name="立案时间")),
                ("notified_at", models.DateTimeField(blank=True, null=True, verbose_name="通知时间")),
                ("paid_at", models.DateTimeField(blank=True, null=True, verbose_name="补缴时间")),
                ("closed_at", models.DateTimeField(blank=True, null=True, verbose_name="结案时间")),
                ("close_reason", models.CharField(blank=True, max_length=200, verbose_name="结案理由")),
                ("appealed_at", models.DateTimeField(blank=True, null=True, verbose_name="申诉时间")),
                ("appeal_reference", models.CharField(blank=True, max_length=64, verbose_name="申诉编号")),
                ("appeal_reason", models.CharField(blank=True, max_length=200, verbose_name="申诉理由")),
                ("updated_at", models.DateTimeField(auto_now=True)),
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
                    "managing_unit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.unit",
                        verbose_name="管理单位",
                    ),
                ),
                (
                    "sms_message",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="core.smsmessage",
                        verbose_name="短信",
                    ),
                ),
            ],
            options={
                "verbose_name": "处罚案件",
                "verbose_name_plural": "处罚案件",
                "ordering": ["-created_at", "-id"],
                "permissions": [("manage_penaltycase", "可处理处罚案件（结案、申诉）")],
            },
            bases=(django_fsm.FSMModelMixin, models.Model),
        ),
        migrations.CreateModel(
            name="PenaltyCaseOrder",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("amount_fen", models.PositiveIntegerField(verbose_name="欠费金额（分）")),
                (
                    "case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="items",
                        to="parking.penaltycase",
                    ),
                ),
                (
                    "order",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="penalty_item",
                        to="parking.order",
                    ),
                ),
            ],
            options={
                "verbose_name": "处罚案件订单",
                "verbose_name_plural": "处罚案件订单",
            },
        ),
        migrations.CreateModel(
            name="ReminderLog",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("plate", models.CharField(max_length=12, verbose_name="车牌号")),
                (
                    "stage",
                    models.CharField(
                        choices=[("arrears", "缴费提醒"), ("backpay", "补缴提醒")],
                        max_length=10,
                        verbose_name="阶段",
                    ),
                ),
                ("day_offset", models.PositiveSmallIntegerField(verbose_name="提醒日")),
                ("amount_fen", models.PositiveIntegerField(verbose_name="欠费金额（分）")),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("sent", "已发送"),
                            ("failed", "发送失败"),
                            ("no_contact", "无联系方式"),
                            ("disabled", "模板已停用"),
                        ],
                        max_length=12,
                        verbose_name="结果",
                    ),
                ),
                ("sent_at", models.DateTimeField(verbose_name="提醒时间")),
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
                    "managing_unit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.unit",
                        verbose_name="管理单位",
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reminders",
                        to="parking.order",
                        verbose_name="停车订单",
                    ),
                ),
                (
                    "sms_message",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="core.smsmessage",
                        verbose_name="短信",
                    ),
                ),
            ],
            options={
                "verbose_name": "催缴提醒记录",
                "verbose_name_plural": "催缴提醒记录",
                "ordering": ["-sent_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ArrearsRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("plate", models.CharField(db_index=True, max_length=12, verbose_name="车牌号")),
                ("amount_fen", models.PositiveIntegerField(verbose_name="欠费金额（分）")),
                ("left_at", models.DateTimeField(verbose_name="驶离时间")),
                ("due_at", models.DateTimeField(verbose_name="缴费期限")),
                ("window_ends_at", models.DateTimeField(verbose_name="补缴截止")),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("pending", "补缴期内"),
                            ("exempt", "已补缴免罚"),
                            ("penalised", "已立案"),
                            ("void", "已作废"),
                        ],
                        default="pending",
                        max_length=10,
                        verbose_name="处理结果",
                    ),
                ),
                ("settled_at", models.DateTimeField(blank=True, null=True, verbose_name="补缴时间")),
                ("decided_at", models.DateTimeField(blank=True, null=True, verbose_name="处理时间")),
                ("created_at", models.DateTimeField(verbose_name="转欠费时间")),
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
                    "managing_unit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.unit",
                        verbose_name="管理单位",
                    ),
                ),
                (
                    "order",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="arrears_record",
                        to="parking.order",
                        verbose_name="停车订单",
                    ),
                ),
            ],
            options={
                "verbose_name": "欠费记录",
                "verbose_name_plural": "欠费记录",
                "ordering": ["-due_at", "-id"],
                "indexes": [
                    models.Index(fields=["outcome", "window_ends_at"], name="parking_arr_outcome_2aa955_idx"),
                    models.Index(
                        fields=["district", "outcome", "due_at"], name="parking_arr_distric_1644a6_idx"
                    ),
                ],
            },
        ),
        migrations.AddIndex(
            model_name="penaltycase",
            index=models.Index(
                fields=["district", "state", "created_at"], name="parking_pen_distric_a4ffb9_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="reminderlog",
            index=models.Index(fields=["district", "sent_at"], name="parking_rem_distric_b65e75_idx"),
        ),
        migrations.AddConstraint(
            model_name="reminderlog",
            constraint=models.UniqueConstraint(
                fields=("order", "stage", "day_offset"), name="parking_reminder_once"
            ),
        ),
    ]
