"""``{% load masking %}`` then ``{{ value|mask:"phone" }}`` (phone, plate, id_number, name).

The value shows in clear only when the acting user of the current request (the request
context the middleware sets) holds ``core.reveal_personal_data``.
"""

from django import template

from ..masking import current_actor_can_reveal
from ..masking import mask as mask_value

register = template.Library()


@register.filter(name="mask")
def mask(value, kind="phone"):
    if value is None or value == "":
        return ""
    if current_actor_can_reveal():
        return value
    return mask_value(value, kind)


@register.filter(name="masked")
def masked(value, kind="phone"):
    """Always masked, whoever looks (e.g. in notifications and e-mails)."""
    return mask_value(value, kind)
