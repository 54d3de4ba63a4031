# MonthlyReport (月度监管报告). Hand-written (only this app's model); after 0006_assessment.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bikeshare", "0006_assessment"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="MonthlyReport",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("year", models.PositiveSmallIntegerField(verbose_name="年")),
                ("month", models.PositiveSmallIntegerField(verbose_name="月")),
                ("generated_at", models.DateTimeField(verbose_name="生成时间")),
                (
                    "generated_by_name",
                    models.CharField(blank=True, max_length=150, verbose_name="生成人名称"),
                ),
                ("docx_path", models.CharField(max_length=255, verbose_name="Word 文件")),
                ("docx_sha256", models.CharField(max_length=64, verbose_name="Word 文件摘要")),
                ("docx_size", models.PositiveIntegerField(verbose_name="Word 文件大小")),
                ("xlsx_path", models.CharField(max_length=255, verbose_name="Excel 文件")),
                ("xlsx_sha256", models.CharField(max_length=64, verbose_name="Excel 文件摘要")),
                ("xlsx_size", models.PositiveIntegerField(verbose_name="Excel 文件大小")),
                ("data_sha256", models.CharField(max_length=64, verbose_name="数据摘要")),
                ("summary", models.JSONField(blank=True, default=dict, verbose_name="主要指标")),
                (
                    "generated_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="bikeshare_monthly_reports",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="生成人",
                    ),
                ),
            ],
            options={
                "verbose_name": "月度监管报告",
                "verbose_name_plural": "月度监管报告",
                "ordering": ["-year", "-month", "-generated_at", "-id"],
                "indexes": [models.Index(fields=["year", "month"], name="bikeshare_m_year_d91bb9_idx")],
            },
        ),
    ]
