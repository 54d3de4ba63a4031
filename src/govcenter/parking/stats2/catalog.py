"""The registered statistics (importing a module registers its :class:`.framework.Statistic`).

Pages, API routes, navigation and reports are generated from :data:`STATISTICS`; a new
statistic is a module with its definition and one import line here.
"""

from __future__ import annotations

# One import per statistic module (each calls framework.register at import).
from . import payments  # noqa: F401  2 缴费情况统计
from .framework import STATISTICS

__all__ = ["STATISTICS"]

# Appended by their branches (one line each; after the block so that merges only append).
from . import complaints  # noqa: E402, F401, I001  5 投诉情况统计
from . import permits  # noqa: E402, F401, I001  7 居住认证情况统计
from . import receipts  # noqa: E402, F401, I001  11 票据数据统计
