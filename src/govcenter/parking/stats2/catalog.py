"""The registered statistics (importing a module registers its :class:`.framework.Statistic`).

Pages, API routes, navigation and reports are generated from :data:`STATISTICS`; a new
statistic is a module with its definition and one import line here.
"""

from __future__ import annotations

# One import per statistic module (each calls framework.register at import).
from . import (
    payments,  # noqa: F401  2 缴费情况统计
    penalties,  # noqa: F401  4 处罚情况统计
    reminders,  # noqa: F401  3 催缴情况统计
    sms,  # noqa: F401  13 提示短信、处罚短信情况统计
)
from .framework import STATISTICS

__all__ = ["STATISTICS"]
