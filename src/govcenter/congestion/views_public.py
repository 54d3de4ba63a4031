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


def suggest(request):
    """网上征集: the citizens' suggestion form — topic, what and where (a point on the map), a
    phone for the answer. Rate-limited per address together with the public API; the answer is
    the number to quote."""
    from django.utils.translation import gettext as _

    from govcenter.core.api.errors import ServiceError

    from .api.suggestions import PublicSuggestionThrottle
    from .models import Channel, Topic
    from .services import suggestions as suggestion_services

    context = {"topics": Topic.choices, "values": request.POST, "error": "", "number": ""}
    status = 200
    if request.method == "POST":
        if not PublicSuggestionThrottle().allow_request(request, None):
            context["error"], status = _("提交过于频繁，请稍后再试。"), 429
        else:
            location = (request.POST.get("location") or "").strip()
            try:
                import json

                suggestion = suggestion_services.suggestion_submit(
                    actor=None, channel=Channel.PUBLIC_FORM, topic=request.POST.get("topic", ""),
                    title=request.POST.get("title", ""), body=request.POST.get("body", ""),
                    location=json.loads(location) if location else None,
                    proposer_name=request.POST.get("proposer_name", ""),
                    proposer_phone=(request.POST.get("proposer_phone") or "").strip(),
                )  # fmt: skip
            except ServiceError as exc:
                context["error"], status = str(exc.detail), 400
            except ValueError:
                context["error"], status = _("位置坐标无效。"), 400
            else:
                context["number"] = suggestion.number
    return render(request, "congestion/public/suggest.html", context, status=status)


@require_GET
def districts(request):
    """The district boundaries (public reference data, GCJ-02) for the form's map."""
    from django.contrib.auth.models import AnonymousUser
    from django.http import JsonResponse

    from govcenter.core.views.dashboard import district_feature_collection

    response = JsonResponse(district_feature_collection(AnonymousUser()), content_type="application/geo+json")
    response["Cache-Control"] = "public, max-age=3600"
    return response
