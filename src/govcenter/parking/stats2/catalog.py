"""The registered statistics (importing a module registers its :class:`.framework.Statistic`).

Pages, API routes, navigation and reports are generated from :data:`STATISTICS`; a new
statistic is a module with its definition and one import line here.
"""

from __future__ import annotations

# One import per statistic module (each calls framework.register at import).
from . import payments  # noqa: F401  2 缴费情况统计
from .framework import STATISTICS
from .monitoring import MONITORING  # noqa: F401  6 数据监控情况统计

__all__ = ["STATISTICS"]
