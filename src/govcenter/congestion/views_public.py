"""宣传: the public pages for citizens — published news and notices (新闻 / 通知公告), their
detail and their files. No login; anything not published is 404. Mounted at
``/congestion/public/`` (``urls_public.py``)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from govcenter.core import attachments

from .models import PublicityType
from .services.library import public_attachments, published_items

PAGE_SIZE = 20


@require_GET
def publicity_list(request):
    kind = request.GET.get("kind", "")
    items = published_items()
    if kind in PublicityType.values:
        items = items.filter(kind=kind)
    else:
        kind = ""
    page = Paginator(items.only("id", "kind", "title", "published_at"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "congestion/public/publicity_list.html",
        {"page": page, "kind": kind, "kinds": PublicityType.choices},
    )


@require_GET
def publicity_detail(request, pk: int):
    item = get_object_or_404(published_items(), pk=pk)
    return render(
        request, "congestion/public/publicity_detail.html", {"item": item, "files": public_attachments(item)}
    )


@require_GET
def publicity_file(request, pk: int, attachment_id: int):
    item = get_object_or_404(published_items(), pk=pk)
    row = public_attachments(item).filter(pk=attachment_id).first()
    if row is None:
        raise Http404
    data = attachments.attachment_read(row, actor=None)
    response = HttpResponse(data, content_type=row.mime)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{_quote(row.name)}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
