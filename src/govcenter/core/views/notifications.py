"""The user's own in-app notifications (站内通知): the inbox page, open one, mark all read.

Nobody reads another's inbox: every query is ``recipient = request.user``; someone else's
notification is a 404. Opening a notification marks it read and goes to its link when that
link is a path on this site (never an outside address).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from .. import notifications

PAGE_SIZE = 30


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    items = notifications.inbox(request.user, unread_only=unread_only)
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "core/notifications/list.html", {"page": page, "unread_only": unread_only})


@login_required
@require_POST
def notification_open(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(notifications.inbox(request.user), pk=pk)
    notifications.mark_read(request.user, [item.pk])
    if item.url and item.url.startswith("/") and url_has_allowed_host_and_scheme(item.url, allowed_hosts=None):
        return HttpResponseRedirect(item.url)
    return redirect("core:notification_list")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    notifications.mark_read(request.user)
    return redirect("core:notification_list")
