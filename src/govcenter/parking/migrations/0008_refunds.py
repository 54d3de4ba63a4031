import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("parking", "0007_order_adjustment"),
        ("core", "0004_sms_templates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ReconciliationRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("date", models.DateField(verbose_name="对账日期")),
                ("provider", models.CharField(max_length=32, verbose_name="支付渠道")),
                (
                    "status",
                    models.CharField(
                        choices=[("balanced", "平账"), ("differences", "有差异")],
                        max_length=12,
                        verbose_name="结果",
                    ),
                ),
                ("statement_count", models.PositiveIntegerField(default=0, verbose_name="渠道笔数")),
                ("statement_paid_fen", models.BigIntegerField(default=0, verbose_name="渠道收款（分）")),
                ("statement_refunded_fen", models.BigIntegerField(default=0, verbose_name="渠道退款（分）")),
                ("ledger_count", models.PositiveIntegerField(default=0, verbose_name="本方笔数")),
                ("ledger_paid_fen", models.BigIntegerField(default=0, verbose_name="本方收款（分）")),
                ("ledger_refunded_fen", models.BigIntegerField(default=0, verbose_name="本方退款（分）")),
                ("matched_count", models.PositiveIntegerField(default=0, verbose_name="一致笔数")),
                ("difference_count", models.PositiveIntegerField(default=0, verbose_name="差异笔数")),
                ("run_by_username", models.CharField(blank=True, max_length=150, verbose_name="执行人")),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="首次对账时间"),
                ),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="最近对账时间")),
            ],
            options={
                "verbose_name": "对账批次",
                "verbose_name_plural": "对账批次",
                "ordering": ["-date", "provider"],
                "permissions": [("run_reconciliation", "可执行对账")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("date", "provider"), name="parking_reconciliation_one_per_day"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="Refund",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("refund_no", models.CharField(max_length=32, unique=True, verbose_name="退款单号")),
                ("provider_trade_no", models.CharField(blank=True, max_length=64, verbose_name="渠道交易号")),
                ("amount_fen", models.PositiveIntegerField(verbose_name="退款金额（分）")),
                (
                    "reason_category",
                    models.CharField(
                        choices=[
                            ("fee_adjusted", "费用调整（投诉减免）"),
                            ("duplicate", "重复支付"),
                            ("paid_after_close", "关闭后支付"),
                            ("order_void", "订单作废"),
                            ("other", "其他"),
                        ],
                        max_length=20,
                        verbose_name="退款原因",
                    ),
                ),
                ("reason", models.CharField(max_length=500, verbose_name="原因说明")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("requested", "待审批"),
                            ("approved", "已批准（退款中）"),
                            ("succeeded", "退款成功"),
                            ("failed", "退款失败"),
                            ("rejected", "已驳回"),
                        ],
                        default="requested",
                        max_length=10,
                        verbose_name="状态",
                    ),
                ),
                (
                    "requested_by_username",
                    models.CharField(blank=True, max_length=150, verbose_name="申请人"),
                ),
                ("approved_by_username", models.CharField(blank=True, max_length=150, verbose_name="审批人")),
                ("decision_note", models.CharField(blank=True, max_length=500, verbose_name="审批意见")),
                (
                    "provider_refund_no",
                    models.CharField(blank=True, max_length=64, verbose_name="渠道退款单号"),
                ),
                ("failure_reason", models.CharField(blank=True, max_length=200, verbose_name="失败原因")),
                (
                    "requested_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="申请时间"),
                ),
                ("decided_at", models.DateTimeField(blank=True, null=True, verbose_name="审批时间")),
                ("succeeded_at", models.DateTimeField(blank=True, null=True, verbose_name="退款成功时间")),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "approved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="审批人",
                    ),
                ),
                (
                    "district",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="parking_refunds",
                        to="core.district",
                        verbose_name="所属区",
                    ),
                ),
                (
                    "intent",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="refunds",
                        to="parking.paymentintent",
                        verbose_name="支付单",
                    ),
                ),
                (
                    "order",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="refunds",
                        to="parking.order",
                        verbose_name="停车订单",
                    ),
                ),
                (
                    "requested_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="申请人",
                    ),
                ),
            ],
            options={
                "verbose_name": "退款",
                "verbose_name_plural": "退款",
                "ordering": ["-requested_at", "-id"],
                "permissions": [("request_refund", "可申请退款"), ("approve_refund", "可审批退款")],
            },
        ),
        migrations.CreateModel(
            name="ReconciliationDifference",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("missing_in_ledger", "本方缺失（渠道有）"),
                            ("missing_in_statement", "渠道缺失（本方有）"),
                            ("amount_mismatch", "金额不符"),
                        ],
                        max_length=24,
                        verbose_name="差异类型",
                    ),
                ),
                (
                    "entry",
                    models.CharField(
                        choices=[("payment", "收款"), ("refund", "退款")],
                        max_length=8,
                        verbose_name="交易类型",
                    ),
                ),
                ("out_trade_no", models.CharField(blank=True, max_length=32, verbose_name="商户订单号")),
                ("provider_trade_no", models.CharField(blank=True, max_length=64, verbose_name="渠道交易号")),
                ("refund_no", models.CharField(blank=True, max_length=32, verbose_name="退款单号")),
                (
                    "statement_amount_fen",
                    models.IntegerField(blank=True, null=True, verbose_name="渠道金额（分）"),
                ),
                (
                    "ledger_amount_fen",
                    models.IntegerField(blank=True, null=True, verbose_name="本方金额（分）"),
                ),
                ("occurred_at", models.DateTimeField(blank=True, null=True, verbose_name="交易时间")),
                (
                    "status",
                    models.CharField(
                        choices=[("open", "待处理"), ("resolved", "已处理")],
                        default="open",
                        max_length=8,
                        verbose_name="处理状态",
                    ),
                ),
                ("note", models.CharField(blank=True, max_length=500, verbose_name="处理说明")),
                ("resolved_by_username", models.CharField(blank=True, max_length=150, verbose_name="处理人")),
                ("resolved_at", models.DateTimeField(blank=True, null=True, verbose_name="处理时间")),
                (
                    "intent",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="parking.paymentintent",
                    ),
                ),
                (
                    "resolved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="differences",
                        to="parking.reconciliationrun",
                    ),
                ),
                (
                    "refund",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="parking.refund",
                    ),
                ),
            ],
            options={
                "verbose_name": "对账差异",
                "verbose_name_plural": "对账差异",
                "ordering": ["run", "kind", "id"],
                "permissions": [("resolve_reconciliation", "可处理对账差异")],
            },
        ),
        migrations.CreateModel(
            name="SandboxRefund",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("refund_no", models.CharField(max_length=32, unique=True)),
                ("provider_refund_no", models.CharField(max_length=64, unique=True)),
                ("out_trade_no", models.CharField(db_index=True, max_length=32)),
                ("trade_no", models.CharField(max_length=64)),
                ("amount_fen", models.PositiveIntegerField()),
                ("state", models.CharField(default="SUCCESS", max_length=10)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("succeeded_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "verbose_name": "sandbox refund",
                "indexes": [
                    models.Index(fields=["state", "succeeded_at"], name="parking_san_state_c6f44a_idx")
                ],
            },
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["status", "requested_at"], name="parking_ref_status_0f4e20_idx"),
        ),
        migrations.AddIndex(
            model_name="refund",
            index=models.Index(fields=["succeeded_at"], name="parking_ref_succeed_498fe8_idx"),
        ),
        migrations.AddConstraint(
            model_name="refund",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_fen__gt", 0)), name="parking_refund_amount_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="refund",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("approved_by__isnull", True),
                    models.Q(("approved_by", models.F("requested_by")), _negated=True),
                    _connector="OR",
                ),
                name="parking_refund_four_eyes",
            ),
        ),
        migrations.AddConstraint(
            model_name="refund",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "succeeded"), _negated=True),
                    ("succeeded_at__isnull", False),
                    _connector="OR",
                ),
                name="parking_refund_succeeded_has_time",
            ),
        ),
        migrations.AddIndex(
            model_name="reconciliationdifference",
            index=models.Index(fields=["status"], name="parking_rec_status_73bc3c_idx"),
        ),
    ]
