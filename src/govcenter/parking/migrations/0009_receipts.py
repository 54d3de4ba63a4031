import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("parking", "0008_refunds"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations: list = [
        migrations.CreateModel(
            name="ReceiptSeries",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("year", models.PositiveSmallIntegerField(verbose_name="年度")),
                ("prefix", models.CharField(max_length=40, unique=True, verbose_name="票据号前缀")),
                ("next_number", models.PositiveIntegerField(default=1, verbose_name="下一号码")),
                (
                    "district",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="receipt_series",
                        to="core.district",
                        verbose_name="所属区",
                    ),
                ),
            ],
            options={
                "verbose_name": "票据号段",
                "verbose_name_plural": "票据号段",
                "ordering": ["district", "-year"],
                "constraints": [
                    models.UniqueConstraint(fields=("district", "year"), name="parking_receipt_series_once"),
                    models.CheckConstraint(
                        condition=models.Q(("next_number__gte", 1)), name="parking_receipt_series_positive"
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="Receipt",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.CharField(max_length=64, unique=True, verbose_name="票据号码")),
                ("sequence", models.PositiveIntegerField(verbose_name="序号")),
                (
                    "payer_plate",
                    models.CharField(blank=True, max_length=200, verbose_name="交款人车牌（脱敏）"),
                ),
                ("total_fen", models.PositiveIntegerField(verbose_name="金额（分）")),
                ("issued_at", models.DateTimeField(verbose_name="开票时间")),
                ("content", models.JSONField(verbose_name="票面内容")),
                ("content_sm3", models.CharField(max_length=64, verbose_name="票面摘要（SM3）")),
                ("signature", models.TextField(verbose_name="签名（Base64）")),
                ("key_id", models.CharField(max_length=64, verbose_name="密钥标识")),
                ("public_key", models.TextField(verbose_name="签名公钥")),
                (
                    "status",
                    models.CharField(
                        choices=[("issued", "已开具"), ("voided", "已红冲")],
                        default="issued",
                        max_length=10,
                        verbose_name="状态",
                    ),
                ),
                ("void_reason", models.CharField(blank=True, max_length=200, verbose_name="红冲原因")),
                ("voided_at", models.DateTimeField(blank=True, null=True, verbose_name="红冲时间")),
                ("voided_by_username", models.CharField(blank=True, max_length=150, verbose_name="红冲人")),
                (
                    "citizen",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="receipts",
                        to="parking.citizen",
                        verbose_name="公众用户",
                    ),
                ),
                (
                    "district",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="parking_receipts",
                        to="core.district",
                        verbose_name="所属区",
                    ),
                ),
                (
                    "payee_unit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="parking_receipts",
                        to="core.unit",
                        verbose_name="收款单位",
                    ),
                ),
                (
                    "series",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="receipts",
                        to="parking.receiptseries",
                        verbose_name="票据号段",
                    ),
                ),
                (
                    "voided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "电子票据",
                "verbose_name_plural": "电子票据",
                "ordering": ["-issued_at", "-id"],
                "permissions": [("void_receipt", "可红冲电子票据")],
                "indexes": [
                    models.Index(
                        fields=["district", "status", "issued_at"], name="parking_rec_distric_b20f8c_idx"
                    ),
                    models.Index(fields=["issued_at"], name="parking_rec_issued__22acf3_idx"),
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("series", "sequence"), name="parking_receipt_sequence_once"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("status", "issued"),
                            models.Q(("void_reason", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="parking_receipt_void_has_reason",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="ReceiptItem",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("amount_fen", models.PositiveIntegerField(verbose_name="金额（分）")),
                ("live", models.BooleanField(default=True)),
                (
                    "order",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="receipt_items",
                        to="parking.order",
                    ),
                ),
                (
                    "receipt",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="items",
                        to="parking.receipt",
                    ),
                ),
            ],
            options={
                "verbose_name": "票据明细",
                "verbose_name_plural": "票据明细",
                "ordering": ["receipt", "order"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("live", True)),
                        fields=("order",),
                        name="parking_receipt_one_live_item_per_order",
                    ),
                    models.UniqueConstraint(fields=("receipt", "order"), name="parking_receipt_item_once"),
                ],
            },
        ),
    ]
