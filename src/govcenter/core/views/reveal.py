"""The explicit, audited reveal of personal data on a detail page (UI side).

Pages mask for everyone. A holder of ``core.reveal_personal_data`` posts the reveal form
(a reason) to the page's reveal URL and gets the same page rendered once with the clear
values of that object; the values live only in that response (never the session, the
URL or a cache), so a reload shows masked values again. Each reveal is one audit entry.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.cache import patch_cache_control

from .. import masking


def reveal_context(request: HttpRequest, obj, *, fields, reveal_url: str, masked_url: str) -> dict:
    """Context for ``core/includes/reveal_form.html``; on a valid POST ``revealed`` holds the values.

    ``can_reveal`` tells the template whether to offer the form at all. A POST from a
    non-holder is 403 (PermissionDenied); a POST without a reason leaves ``revealed``
    empty and the form bound with its errors (``reveal_open`` keeps it unfolded).
    """
    allowed = masking.can_reveal(request.user)
    context = {
        "can_reveal": allowed,
        "revealed": {},
        "reveal_open": False,
        "reveal_url": reveal_url,
        "masked_url": masked_url,
    }
    if request.method != "POST":
        context["reveal_form"] = masking.RevealForm() if allowed else None
        return context
    if not allowed:
        raise PermissionDenied
    form = masking.RevealForm(request.POST)
    context["reveal_form"] = form
    if form.is_valid():
        try:
            context["revealed"] = masking.reveal_fields(
                user=request.user, obj=obj, fields=fields, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            form.add_error(None, exc.messages)
    if not context["revealed"]:
        context["reveal_open"] = True
    return context


def no_store(response):
    """Clear values must not stay in the browser cache or the back/forward history."""
    patch_cache_control(response, no_store=True, no_cache=True, private=True, max_age=0)
    return response
