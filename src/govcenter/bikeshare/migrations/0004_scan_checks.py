# ScanCheck (扫码核查). Depends on 0002; the lead re-chains it after 0003_fences_quotas.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('bikeshare', '0003_fences_quotas'),
        ('core', '0004_sms_templates'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ScanCheck',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('checked_at', models.DateTimeField(db_index=True, verbose_name='核查时间')),
                ('vehicle_code', models.CharField(max_length=255, verbose_name='车辆编码')),
                ('lon', models.FloatField(blank=True, null=True, verbose_name='经度')),
                ('lat', models.FloatField(blank=True, null=True, verbose_name='纬度')),
                ('datum', models.CharField(default='GCJ-02', editable=False, max_length=8, verbose_name='坐标系')),
                ('source_datum', models.CharField(blank=True, max_length=8, verbose_name='原始坐标系')),
                ('accuracy_m', models.FloatField(blank=True, null=True, verbose_name='定位精度（米）')),
                ('result', models.CharField(choices=[('compliant', '合规'), ('unregistered', '未登记'), ('outside_fence', '未在电子围栏内停放'), ('damaged', '车辆损坏'), ('illegally_parked', '违规停放'), ('other', '其他问题')], max_length=20, verbose_name='核查结果')),
                ('flags', models.JSONField(blank=True, default=list, verbose_name='其他问题')),
                ('note', models.TextField(blank=True, verbose_name='备注')),
                ('photo_ref', models.CharField(blank=True, max_length=255, verbose_name='照片编号')),
                ('live_state', models.CharField(blank=True, max_length=20, verbose_name='实时状态')),
                ('live_reported_at', models.DateTimeField(blank=True, null=True, verbose_name='最近上报时间')),
                ('live_distance_m', models.FloatField(blank=True, null=True, verbose_name='与上报位置距离（米）')),
                ('live_outside_fence', models.BooleanField(blank=True, null=True, verbose_name='上报位置在围栏外')),
                ('client_ref', models.CharField(blank=True, max_length=64, verbose_name='客户端标识')),
                ('district', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='bikeshare_scan_checks', to='core.district', verbose_name='所属区')),
                ('inspector', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='bikeshare_scan_checks', to=settings.AUTH_USER_MODEL, verbose_name='核查员')),
                ('operator', models.ForeignKey(blank=True, limit_choices_to={'kind': 'operator'}, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='bikeshare_operator_scan_checks', to='core.unit', verbose_name='运营企业')),
                ('unit', models.ForeignKey(help_text='核查员核查时所属单位', on_delete=django.db.models.deletion.PROTECT, related_name='bikeshare_scan_checks', to='core.unit', verbose_name='核查单位')),
                ('vehicle', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='scan_checks', to='bikeshare.vehicle', verbose_name='登记车辆')),
            ],
            options={
                'verbose_name': '扫码核查',
                'verbose_name_plural': '扫码核查',
                'ordering': ['-checked_at', '-id'],
                'indexes': [models.Index(fields=['operator', 'checked_at'], name='bikeshare_s_operato_e37695_idx'), models.Index(fields=['district', 'checked_at'], name='bikeshare_s_distric_d96574_idx'), models.Index(fields=['inspector', 'checked_at'], name='bikeshare_s_inspect_40382a_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('client_ref', ''), _negated=True), fields=('inspector', 'client_ref'), name='bikeshare_scancheck_inspector_client_ref')],
            },
        ),
    ]
