"""The contract & SLA ledger (合同与 SLA 台账): see :mod:`.services`."""

from .services import bond_fen, grade_for, milestone_amounts, penalties, percent_of

__all__ = ["bond_fen", "grade_for", "milestone_amounts", "penalties", "percent_of"]
