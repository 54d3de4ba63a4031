"""Residential parking permits (居住停车认证) and their monthly fees."""

import datetime

import django.db.models.deletion
import django_fsm
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_personal_data_validators"),
        ("parking", "0011_complaints"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ResidentialPermit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("applicant_name", models.CharField(max_length=50, verbose_name="申请人姓名")),
                ("applicant_phone", models.CharField(max_length=20, verbose_name="联系电话")),
                ("applicant_id_number", models.CharField(max_length=18, verbose_name="身份证号")),
                ("plate", models.CharField(db_index=True, max_length=10, verbose_name="车牌号")),
                ("address", models.CharField(max_length=200, verbose_name="居住地址")),
                (
                    "address_proof_ref",
                    models.CharField(
                        help_text="房产证、租赁备案或居住证的编号或文件编号",
                        max_length=100,
                        verbose_name="居住证明编号",
                    ),
                ),
                ("hours_start", models.TimeField(default=datetime.time(19, 0), verbose_name="认证时段开始")),
                ("hours_end", models.TimeField(default=datetime.time(7, 0), verbose_name="认证时段结束")),
                ("monthly_fee_fen", models.PositiveIntegerField(default=0, verbose_name="月费（分）")),
                ("months", models.PositiveSmallIntegerField(default=1, verbose_name="认证月数")),
                ("valid_from", models.DateField(verbose_name="有效期起")),
                ("valid_to", models.DateField(verbose_name="有效期止")),
                (
                    "status",
                    django_fsm.FSMField(
                        choices=[
                            ("submitted", "待审核"),
                            ("active", "有效"),
                            ("rejected", "已驳回"),
                            ("expired", "已过期"),
                            ("revoked", "已撤销"),
                        ],
                        default="submitted",
                        max_length=10,
                        protected=True,
                        verbose_name="状态",
                    ),
                ),
                ("submitted_at", models.DateTimeField(auto_now_add=True, verbose_name="申请时间")),
                ("reviewed_at", models.DateTimeField(blank=True, null=True, verbose_name="审核时间")),
                ("review_comment", models.CharField(blank=True, max_length=500, verbose_name="审核意见")),
                ("revoked_at", models.DateTimeField(blank=True, null=True, verbose_name="撤销时间")),
                (
                    "reminder_sent_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="到期提醒时间"),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "citizen",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="permits",
                        to="parking.citizen",
                        verbose_name="申请账号",
                    ),
                ),
                (
                    "district",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="parking_permits",
                        to="core.district",
                        verbose_name="所属区",
                    ),
                ),
                (
                    "renewal_of",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="renewals",
                        to="parking.residentialpermit",
                        verbose_name="续期自",
                    ),
                ),
                (
                    "reviewer",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="审核人",
                    ),
                ),
                (
                    "segments",
                    models.ManyToManyField(
                        related_name="permits", to="parking.segment", verbose_name="认证路段"
                    ),
                ),
                (
                    "submitted_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="录入人",
                    ),
                ),
            ],
            options={
                "verbose_name": "居住停车认证",
                "verbose_name_plural": "居住停车认证",
                "ordering": ["-submitted_at", "-id"],
                "permissions": [("review_residentialpermit", "可审核、撤销居住停车认证")],
            },
            bases=(django_fsm.FSMModelMixin, models.Model),
        ),
        migrations.CreateModel(
            name="PermitFee",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("month", models.DateField(help_text="该月第一天", verbose_name="月份")),
                ("amount_fen", models.PositiveIntegerField(verbose_name="金额（分）")),
                (
                    "status",
                    models.CharField(
                        choices=[("due", "待缴"), ("paid", "已缴"), ("cancelled", "已取消")],
                        default="due",
                        max_length=10,
                        verbose_name="状态",
                    ),
                ),
                ("paid_at", models.DateTimeField(blank=True, null=True, verbose_name="缴费时间")),
                ("paid_by", models.CharField(blank=True, max_length=150, verbose_name="登记人")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "permit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="fees",
                        to="parking.residentialpermit",
                    ),
                ),
            ],
            options={
                "verbose_name": "居住认证月费",
                "verbose_name_plural": "居住认证月费",
                "ordering": ["permit", "month"],
            },
        ),
        migrations.AddIndex(
            model_name="residentialpermit",
            index=models.Index(fields=["district", "status"], name="parking_res_distric_864182_idx"),
        ),
        migrations.AddIndex(
            model_name="residentialpermit",
            index=models.Index(fields=["status", "valid_to"], name="parking_res_status_28884b_idx"),
        ),
        migrations.AddIndex(
            model_name="residentialpermit",
            index=models.Index(fields=["plate", "status"], name="parking_res_plate_d6edce_idx"),
        ),
        migrations.AddConstraint(
            model_name="residentialpermit",
            constraint=models.CheckConstraint(
                condition=models.Q(("valid_to__gte", models.F("valid_from"))),
                name="parking_permit_valid_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="permitfee",
            constraint=models.UniqueConstraint(
                fields=("permit", "month"), name="parking_permit_fee_one_per_month"
            ),
        ),
    ]
