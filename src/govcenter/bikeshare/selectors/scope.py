"""The caller's view of the live picture and the lake: operator and district codes.

The live store and the lake know operator codes (operator unit codes) and district codes, so
the caller's scope becomes a :class:`LiveScope`: a bike (or a ride) is visible when its
operator is one the scope covers (operator staff) *or* its district is (a district manager)
— the union, as :meth:`govcenter.core.scope.Scope.q` combines the kinds. The Center sees all,
including bikes of operators that are no unit and bikes outside every district.
"""

from __future__ import annotations

from dataclasses import dataclass

from govcenter.core.models import District, Unit, UnitKind
from govcenter.core.scope import scope_for


@dataclass(frozen=True)
class LiveScope:
    """What of the live picture a caller may see (operator and district codes)."""

    all: bool
    operators: frozenset[str]
    districts: frozenset[str]

    def sees(self, operator: str, district: str) -> bool:
        return self.all or operator in self.operators or district in self.districts

    def full_operator(self, operator: str) -> bool:
        """Every bike of ``operator`` is visible (not only those in visible districts)."""
        return self.all or operator in self.operators


def live_scope(user) -> LiveScope:
    scope = scope_for(user)
    if scope.all:
        return LiveScope(True, frozenset(), frozenset())
    operators = Unit.objects.restrict(scope).filter(kind=UnitKind.OPERATOR).values_list("code", flat=True)
    districts = District.objects.restrict(scope).values_list("code", flat=True)
    return LiveScope(False, frozenset(operators), frozenset(districts))
