"""The registered statistics (importing a module registers its :class:`.framework.Statistic`).

Pages, API routes, navigation and reports are generated from :data:`STATISTICS`; a new
statistic is a module with its definition and one import line here.
"""
# ruff: noqa: I001  (one import line per statistic, in the contract's order)

from __future__ import annotations

from .framework import STATISTICS

# One import per statistic module (each calls framework.register at import).
from . import payments  # noqa: E402, F401  2 缴费情况统计
from . import reminders  # noqa: E402, F401  3 催缴情况统计
from . import penalties  # noqa: E402, F401  4 处罚情况统计
from . import complaints  # noqa: E402, F401  5 投诉情况统计
from . import monitoring  # noqa: E402, F401  6 数据监控情况统计
from . import permits  # noqa: E402, F401  7 居住认证情况统计
from . import receipts  # noqa: E402, F401  11 票据数据统计
from . import sms  # noqa: E402, F401  13 提示短信、处罚短信情况统计

__all__ = ["STATISTICS"]
