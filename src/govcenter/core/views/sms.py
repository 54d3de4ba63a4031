"""The SMS outbox: what the embedded gateway "sent" (for core.read_sms_outbox holders)."""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..masking import can_reveal
from ..models import SmsMessage

PAGE_SIZE = 50


@login_required
@permission_required("core.read_sms_outbox", raise_exception=True)
@require_GET
def sms_outbox(request: HttpRequest) -> HttpResponse:
    """Newest first, filtered by ``?phone=``.

    Phones show masked unless the reader may reveal personal data (the ``mask`` filter).
    Such readers search by part of a number; the others only by a whole number they
    already know, so partial searches cannot unmask a list.
    """
    phone = re.sub(r"[^\d+]", "", request.GET.get("phone", ""))[:20]
    messages = SmsMessage.objects.order_by("-created_at", "-id")
    if phone:
        messages = (
            messages.filter(phone__contains=phone)
            if can_reveal(request.user)
            else messages.filter(phone=phone)
        )
    page = Paginator(messages, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "core/sms/outbox.html", {"page": page, "phone": phone})
