from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "govcenter.analytics"
    label = "analytics"
    verbose_name = _("数据分析")
    default_auto_field = "django.db.models.BigAutoField"
