"""``{% load masking %}`` then ``{{ value|mask:"phone" }}`` (phone, plate, id_number, name).

Always masked, whoever looks — holders of ``core.reveal_personal_data`` too. A page that
shows clear values gets them from an explicit, audited reveal
(:func:`govcenter.core.masking.reveal_fields`) and renders that result instead.
"""

from django import template

from ..masking import mask as mask_value

register = template.Library()


@register.filter(name="mask")
def mask(value, kind="phone"):
    if value is None or value == "":
        return ""
    return mask_value(value, kind)


# The older name some templates (notifications, e-mails) use; the same rule.
register.filter("masked", mask)
