"""Setting fleet quotas (总量调控): a new quota closes the open one, audited.

Quotas of one operator are set one at a time (a row lock on the operator's ``Unit``), so
"close the open quota at the new start, insert the new one" never interleaves with another
setter and the history of each (operator, district) stays a chain without overlaps. The
partial unique constraints on :class:`FleetQuota` back this up in the database.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District, Unit, UnitKind

from ..models import FleetQuota

QUOTA_FIELDS = ["id", "operator_id", "district_id", "quota", "valid_from", "valid_to", "reason"]
MAX_QUOTA = 10_000_000


def quota_set(
    actor,
    *,
    operator: Unit,
    district: District | None,
    quota: int,
    reason: str = "",
    valid_from: datetime | None = None,
) -> FleetQuota:
    """Set ``operator``'s quota in ``district`` (None: city-wide) from ``valid_from`` (now).

    The open quota of the same (operator, district), if any, ends where the new one starts.
    A start before the open quota's own start would rewrite history: refused (409).
    """
    if operator.kind != UnitKind.OPERATOR:
        raise ServiceError(_("只能为运营企业设置投放总量。"), code="not_an_operator")
    if isinstance(quota, bool) or not isinstance(quota, int) or not 0 <= quota <= MAX_QUOTA:
        raise ServiceError(
            _("投放总量须为 0～%(max)d 之间的整数。") % {"max": MAX_QUOTA},
            code="bad_quota",
            details={"quota": quota},
        )
    if valid_from is not None and timezone.is_naive(valid_from):
        raise ServiceError(_("生效时间须带时区。"), code="naive_datetime")
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        Unit.objects.select_for_update().filter(pk=operator.pk).first()  # one setter per operator
        start = valid_from or timezone.now()
        current = (
            FleetQuota.objects.select_for_update()
            .filter(operator=operator, district=district, valid_to__isnull=True)
            .order_by("pk")  # no join to the nullable district: FOR UPDATE refuses outer joins
            .first()
        )
        if current is not None and start <= current.valid_from:
            raise ServiceError(
                _("新的生效时间须晚于当前总量的生效时间（%(start)s）。")
                % {"start": timezone.localtime(current.valid_from).isoformat()},
                code="overlaps_history",
                status=409,
                details={"current": current.pk, "current_valid_from": current.valid_from.isoformat()},
            )
        before = {}
        if current is not None:
            before = audit.snapshot(current, QUOTA_FIELDS)
            current.valid_to = start
            current.save(update_fields=["valid_to"])
        new = FleetQuota.objects.create(
            operator=operator,
            district=district,
            quota=quota,
            valid_from=start,
            reason=reason[:500],
            set_by=user,
        )
        audit.record(
            action="bikeshare.quota.set",
            obj=new,
            reason=reason[:500],
            changes={"before": before, "after": audit.snapshot(new, QUOTA_FIELDS)},
        )
    return new
