# Complaints and appeals, fee adjustments, customer-service tickets (models/complaints.py).

import django.db.models.deletion
import django.db.models.expressions
import django.utils.timezone
import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("parking", "0010_arrears"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Complaint",
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
                        blank=True, editable=False, max_length=20, null=True, unique=True, verbose_name="编号"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("complaint", "投诉"), ("appeal", "申诉")],
                        max_length=10,
                        verbose_name="类型",
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[
                            ("app", "北京交通App"),
                            ("hotline", "热线电话"),
                            ("mailbox", "信箱"),
                            ("staff", "工作人员登记"),
                            ("other", "其他渠道"),
                        ],
                        max_length=10,
                        verbose_name="来源渠道",
                    ),
                ),
                ("contact_phone", models.CharField(blank=True, max_length=20, verbose_name="联系电话")),
                ("plate", models.CharField(blank=True, max_length=12, verbose_name="车牌号")),
                (
                    "category",
                    models.CharField(
                        choices=[
                            ("wrong_plate", "车牌识别错误"),
                            ("wrong_times", "停车时间不符"),
                            ("not_parked", "未停车被计费"),
                            ("tariff_dispute", "收费标准争议"),
                            ("device_fault", "设备故障"),
                            ("attitude", "服务态度"),
                            ("other", "其他"),
                        ],
                        max_length=16,
                        verbose_name="问题分类",
                    ),
                ),
                ("subject", models.CharField(max_length=100, verbose_name="标题")),
                ("body", models.TextField(max_length=4000, verbose_name="诉求内容")),
                (
                    "status",
                    django_fsm.FSMField(
                        choices=[
                            ("received", "已登记"),
                            ("accepted", "已受理"),
                            ("replied", "已答复"),
                            ("closed", "已办结"),
                            ("rejected", "不予受理"),
                            ("transferred", "已转办"),
                        ],
                        default="received",
                        max_length=12,
                        protected=True,
                        verbose_name="状态",
                    ),
                ),
                (
                    "received_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="登记时间"),
                ),
                ("deadline", models.DateField(verbose_name="答复期限")),
                ("accepted_at", models.DateTimeField(blank=True, null=True, verbose_name="受理时间")),
                ("replied_at", models.DateTimeField(blank=True, null=True, verbose_name="答复时间")),
                ("closed_at", models.DateTimeField(blank=True, null=True, verbose_name="办结时间")),
                ("reply_text", models.TextField(blank=True, max_length=4000, verbose_name="答复内容")),
                (
                    "outcome",
                    models.CharField(
                        blank=True,
                        choices=[("upheld", "属实"), ("partly_upheld", "部分属实"), ("not_upheld", "不属实")],
                        max_length=16,
                        verbose_name="核查结论",
                    ),
                ),
                ("reject_reason", models.CharField(blank=True, max_length=500, verbose_name="不予受理理由")),
                ("transferred_to", models.CharField(blank=True, max_length=100, verbose_name="转办单位")),
                (
                    "satisfaction",
                    models.PositiveSmallIntegerField(blank=True, null=True, verbose_name="满意度"),
                ),
                (
                    "satisfaction_comment",
                    models.CharField(blank=True, max_length=500, verbose_name="评价说明"),
                ),
                ("rated_at", models.DateTimeField(blank=True, null=True, verbose_name="评价时间")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="创建时间")),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "citizen",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="complaints",
                        to="parking.citizen",
                        verbose_name="公众用户",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="登记人",
                    ),
                ),
                (
                    "district",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="parking_complaints",
                        to="core.district",
                        verbose_name="承办区",
                    ),
                ),
                (
                    "handling_unit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="parking_complaints",
                        to="core.unit",
                        verbose_name="承办单位",
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="complaints",
                        to="parking.order",
                        verbose_name="相关订单",
                    ),
                ),
            ],
            options={
                "verbose_name": "投诉申诉",
                "verbose_name_plural": "投诉申诉",
                "ordering": ["-received_at", "-id"],
                "permissions": [("route_complaint", "可改派投诉申诉的承办区和承办单位")],
            },
            bases=(django_fsm.FSMModelMixin, models.Model),
        ),
        migrations.CreateModel(
            name="ComplaintAction",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("action", models.CharField(max_length=20, verbose_name="操作")),
                ("from_status", models.CharField(blank=True, max_length=12, verbose_name="原状态")),
                ("to_status", models.CharField(blank=True, max_length=12, verbose_name="新状态")),
                ("note", models.CharField(blank=True, max_length=1000, verbose_name="说明")),
                ("actor_name", models.CharField(blank=True, max_length=150, verbose_name="操作人")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="时间")),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "complaint",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="actions",
                        to="parking.complaint",
                    ),
                ),
            ],
            options={
                "verbose_name": "投诉办理记录",
                "verbose_name_plural": "投诉办理记录",
                "ordering": ["created_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="FeeAdjustment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("amount_fen", models.IntegerField(verbose_name="调整金额（分）")),
                ("reason", models.CharField(max_length=500, verbose_name="调整理由")),
                ("adjustment_before_fen", models.IntegerField(verbose_name="调整前累计（分）")),
                ("adjustment_after_fen", models.IntegerField(verbose_name="调整后累计（分）")),
                ("refund_due_fen", models.PositiveIntegerField(default=0, verbose_name="应退金额（分）")),
                ("refund_ref", models.CharField(blank=True, max_length=40, verbose_name="退款单号")),
                ("actor_name", models.CharField(blank=True, max_length=150, verbose_name="操作人")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="调整时间")),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "complaint",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="fee_adjustments",
                        to="parking.complaint",
                        verbose_name="投诉申诉",
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="fee_adjustments",
                        to="parking.order",
                        verbose_name="订单",
                    ),
                ),
            ],
            options={
                "verbose_name": "费用调整",
                "verbose_name_plural": "费用调整",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ServiceTicket",
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
                        blank=True, editable=False, max_length=20, null=True, unique=True, verbose_name="编号"
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        choices=[("hotline", "热线电话"), ("mailbox", "信箱"), ("app", "北京交通App")],
                        max_length=10,
                        verbose_name="来源渠道",
                    ),
                ),
                (
                    "category",
                    models.CharField(
                        choices=[
                            ("inquiry", "咨询"),
                            ("payment", "缴费"),
                            ("receipt", "发票"),
                            ("complaint_referral", "投诉转办"),
                            ("suggestion", "建议"),
                            ("other", "其他"),
                        ],
                        max_length=20,
                        verbose_name="工单分类",
                    ),
                ),
                ("caller_phone", models.CharField(blank=True, max_length=20, verbose_name="来电号码")),
                ("plate", models.CharField(blank=True, max_length=12, verbose_name="车牌号")),
                ("subject", models.CharField(max_length=100, verbose_name="标题")),
                ("body", models.TextField(max_length=4000, verbose_name="内容")),
                (
                    "status",
                    django_fsm.FSMField(
                        choices=[("open", "待答复"), ("answered", "已答复"), ("closed", "已关闭")],
                        default="open",
                        max_length=10,
                        protected=True,
                        verbose_name="状态",
                    ),
                ),
                ("first_answer_at", models.DateTimeField(blank=True, null=True, verbose_name="首次答复时间")),
                (
                    "answer_minutes",
                    models.PositiveIntegerField(blank=True, null=True, verbose_name="答复用时（分钟）"),
                ),
                ("closed_at", models.DateTimeField(blank=True, null=True, verbose_name="关闭时间")),
                (
                    "satisfaction",
                    models.PositiveSmallIntegerField(blank=True, null=True, verbose_name="满意度"),
                ),
                ("rated_at", models.DateTimeField(blank=True, null=True, verbose_name="评价时间")),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="创建时间"),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "complaint",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="ticket",
                        to="parking.complaint",
                        verbose_name="转办的投诉申诉",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="登记人",
                    ),
                ),
                (
                    "district",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="parking_tickets",
                        to="core.district",
                        verbose_name="相关区",
                    ),
                ),
            ],
            options={
                "verbose_name": "客服工单",
                "verbose_name_plural": "客服工单",
                "ordering": ["-created_at", "-id"],
            },
            bases=(django_fsm.FSMModelMixin, models.Model),
        ),
        migrations.CreateModel(
            name="TicketReply",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("text", models.TextField(max_length=4000, verbose_name="答复内容")),
                ("public", models.BooleanField(default=True, verbose_name="答复来电人")),
                ("author_name", models.CharField(blank=True, max_length=150, verbose_name="答复人")),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="答复时间"),
                ),
                (
                    "author",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "ticket",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="replies",
                        to="parking.serviceticket",
                    ),
                ),
            ],
            options={
                "verbose_name": "工单答复",
                "verbose_name_plural": "工单答复",
                "ordering": ["created_at", "id"],
            },
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(
                fields=["district", "status", "received_at"], name="parking_com_distric_b5210f_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(fields=["status", "deadline"], name="parking_com_status_f4612a_idx"),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(fields=["channel", "received_at"], name="parking_com_channel_81f11c_idx"),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(fields=["created_at"], name="parking_com_created_8fff6f_idx"),
        ),
        migrations.AddConstraint(
            model_name="complaint",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "appeal"), _negated=True), ("order__isnull", False), _connector="OR"
                ),
                name="parking_complaint_appeal_has_order",
            ),
        ),
        migrations.AddConstraint(
            model_name="complaint",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("satisfaction__isnull", True),
                    models.Q(("satisfaction__gte", 1), ("satisfaction__lte", 5)),
                    _connector="OR",
                ),
                name="parking_complaint_satisfaction_1_5",
            ),
        ),
        migrations.AddConstraint(
            model_name="feeadjustment",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_fen", 0), _negated=True), name="parking_feeadj_nonzero"
            ),
        ),
        migrations.AddConstraint(
            model_name="feeadjustment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "adjustment_after_fen",
                        django.db.models.expressions.CombinedExpression(
                            models.F("adjustment_before_fen"), "+", models.F("amount_fen")
                        ),
                    )
                ),
                name="parking_feeadj_sum",
            ),
        ),
        migrations.AddIndex(
            model_name="serviceticket",
            index=models.Index(fields=["status", "created_at"], name="parking_ser_status_0bed81_idx"),
        ),
        migrations.AddIndex(
            model_name="serviceticket",
            index=models.Index(fields=["district", "created_at"], name="parking_ser_distric_559579_idx"),
        ),
        migrations.AddIndex(
            model_name="serviceticket",
            index=models.Index(fields=["created_at"], name="parking_ser_created_d8bd7f_idx"),
        ),
        migrations.AddConstraint(
            model_name="serviceticket",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("satisfaction__isnull", True),
                    models.Q(("satisfaction__gte", 1), ("satisfaction__lte", 5)),
                    _connector="OR",
                ),
                name="parking_ticket_satisfaction_1_5",
            ),
        ),
    ]
