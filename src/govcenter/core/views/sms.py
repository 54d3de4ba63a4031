"""The SMS outbox: what the embedded gateway "sent" (for core.read_sms_outbox holders).

Phones are masked for every reader; one message's page offers holders of
``core.reveal_personal_data`` the explicit, audited reveal of its phone (views/reveal.py).
"""

from __future__ import annotations

import re

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from ..masking import can_reveal
from ..models import SmsMessage
from .reveal import no_store, reveal_context

PAGE_SIZE = 50


@login_required
@permission_required("core.read_sms_outbox", raise_exception=True)
@require_GET
def sms_outbox(request: HttpRequest) -> HttpResponse:
    """Newest first, filtered by ``?phone=``.

    Phones show masked for everyone (the ``mask`` filter). Readers who may reveal personal
    data search by part of a number (a lookup, not a display); the others only by a whole
    number they already know, so partial searches cannot unmask a list.
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


@login_required
@permission_required("core.read_sms_outbox", raise_exception=True)
@require_http_methods(["GET", "POST"])
def sms_message(request: HttpRequest, pk: int) -> HttpResponse:
    """One message, phone masked; POST with a reason shows its phone once (audited).

    The outbox is a function permission without data scope (the gateway's own log), so
    every reader of the outbox may open any message; a POST from a reader without
    ``core.reveal_personal_data`` is 403.
    """
    message = get_object_or_404(SmsMessage, pk=pk)
    context = {
        "message": message,
        **reveal_context(
            request,
            message,
            fields=("phone",),
            reveal_url=reverse("core:sms_message", args=[pk]),
            masked_url=reverse("core:sms_message", args=[pk]),
        ),
    }
    response = render(request, "core/sms/message.html", context)
    return no_store(response) if context["revealed"] else response
