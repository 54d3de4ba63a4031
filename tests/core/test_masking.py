"""Masking of personal data, audited reveals, the template filter and the DRF field."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.template import Context, Template
from django.test import RequestFactory
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import serializers

from govcenter.core import context
from govcenter.core.masking import (
    MASKERS,
    STAR,
    MaskedField,
    RevealForm,
    can_reveal,
    mask,
    mask_id_number,
    mask_name,
    mask_phone,
    mask_plate,
    masked_repr,
    register_personal_fields,
    reveal,
    reveal_fields,
)
from govcenter.core.models import AuditEntry
from tests.factories import RoleFactory, UnitFactory, UserFactory

DIGITS = "0123456789"
PROVINCES = "京津沪渝冀晋辽吉黑苏浙皖闽赣鲁豫鄂湘粤琼川贵云陕甘青蒙桂宁新藏"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@pytest.mark.parametrize(
    ("fn", "value", "expected"),
    [
        (mask_phone, "13812345678", "138****5678"),
        (mask_phone, " 13812345678 ", "138****5678"),
        (mask_phone, "+8613812345678", "+86*******5678"),
        (mask_phone, "62345678", "****5678"),
        (mask_phone, "1234", "****"),
        (mask_phone, "", ""),
        (mask_phone, None, ""),
        (mask_phone, 13812345678, "138****5678"),
        (mask_plate, "京A12345", "京A·***45"),
        (mask_plate, "京A·12345", "京A·***45"),
        (mask_plate, "京AD12345", "京A·****45"),
        (mask_plate, "京A·***45", "京A·***45"),
        (mask_plate, "AB1", "***"),
        (mask_id_number, "11010119900307123X", "110101********123X"),
        (mask_id_number, "110101900307123", "110101*****7123"),
        (mask_name, "张三", "张*"),
        (mask_name, "欧阳娜娜", "欧***"),
        (mask_name, "张", "*"),
        (mask_name, "阿卜杜拉·买买提", "阿*******"),
    ],
)
def test_examples(fn, value, expected):
    assert fn(value) == expected


def _visible(masked: str) -> int:
    return sum(1 for c in masked if c not in (STAR, "·"))


@given(st.text(alphabet=DIGITS, min_size=11, max_size=11))
def test_mobile_middle_is_always_hidden(phone):
    out = mask_phone(phone)
    assert out[:3] == phone[:3] and out[3:7] == "****" and out[7:] == phone[7:]


@given(
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTERS),
    st.text(alphabet=DIGITS + LETTERS, min_size=5, max_size=6),
)
def test_plate_keeps_province_letter_and_last_two(province, letter, rest):
    plate = province + letter + rest
    out = mask_plate(plate)
    assert out == f"{province}{letter}·{STAR * (len(rest) - 2)}{rest[-2:]}"


@given(st.text(alphabet=DIGITS + "X", min_size=18, max_size=18))
def test_id_number_keeps_first_six_and_last_four(number):
    out = mask_id_number(number)
    assert out[:6] == number[:6] and out[6:14] == STAR * 8 and out[14:] == number[14:]


@given(st.text(min_size=0, max_size=40))
def test_masks_are_total_and_idempotent_on_any_text(text):
    for kind, fn in MASKERS.items():
        out = fn(text)
        assert isinstance(out, str)
        assert fn(out) == out, kind
        assert mask(text, kind) == out


@given(st.text(min_size=0, max_size=40))
def test_masks_never_show_more_than_their_rule(text):
    stripped = text.strip()
    n = len(stripped)
    rules = {mask_phone: (7, 4), mask_id_number: (10, 4), mask_name: (1, 1)}
    for fn, (most, min_hidden) in rules.items():
        out = fn(text)
        assert len(out) == n  # a star per hidden character
        assert _visible(out) <= min(most, max(0, n - min_hidden))
        # Every shown character is the original one in its place.
        assert all(o == s for o, s in zip(out, stripped, strict=True) if o != STAR)
    plate = mask_plate(text)
    assert _visible(plate) <= 4


@given(st.one_of(st.none(), st.integers(), st.floats(allow_nan=True), st.binary(max_size=10)))
def test_masks_accept_any_value(value):
    for fn in MASKERS.values():
        assert isinstance(fn(value), str)


def test_unknown_kind_hides_everything():
    assert mask("13812345678", "phnoe") == STAR * 11


# ---- reveal -------------------------------------------------------------------------------


@pytest.fixture
def revealer(db):
    return UserFactory(role_set=[RoleFactory(perms=["core.reveal_personal_data"])])


@pytest.mark.django_db
def test_reveal_returns_the_clear_value_and_audits_the_reason(revealer):
    subject = UserFactory(phone="13812345678")
    assert reveal(user=revealer, obj=subject, field="phone", reason="核实投诉人身份") == "13812345678"
    entry = AuditEntry.objects.get(action="reveal")
    assert entry.user_id == revealer.pk and entry.object_id == str(subject.pk)
    assert entry.reason == "核实投诉人身份" and entry.changes == {"fields": ["phone"]}
    assert "13812345678" not in str(entry.changes) + entry.object_repr


@pytest.mark.django_db
def test_reveal_fields_is_one_audit_entry_without_the_values(revealer):
    subject = UserFactory(full_name="张三丰", phone="13812345678")
    values = reveal_fields(
        user=revealer, obj=subject, fields=["phone", "full_name", "phone"], reason="处理投诉"
    )
    assert values == {"phone": "13812345678", "full_name": "张三丰"}
    (entry,) = AuditEntry.objects.filter(action="reveal")
    assert entry.changes == {"fields": ["phone", "full_name"]} and entry.reason == "处理投诉"
    # A user is named by username in the chain, never by the (personal) full name.
    assert entry.object_repr == subject.username and "张三丰" not in entry.object_repr
    stored = f"{entry.changes} {entry.object_repr} {entry.reason}"
    assert "张三丰" not in stored and "13812345678" not in stored


@pytest.mark.django_db
def test_reveal_needs_permission_and_reason(revealer):
    subject = UserFactory()
    assert not can_reveal(UserFactory())
    with pytest.raises(PermissionDenied):
        reveal(user=UserFactory(), obj=subject, field="phone", reason="好奇")
    with pytest.raises(ValidationError) as excinfo:
        reveal(user=revealer, obj=subject, field="phone", reason="   ")
    assert "reason" in excinfo.value.message_dict
    assert not AuditEntry.objects.filter(action="reveal").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("fields", [["password"], ["phone", "email"], [], ["username"]])
def test_reveal_only_declared_personal_fields(revealer, fields):
    with pytest.raises(ValidationError) as excinfo:
        reveal_fields(user=revealer, obj=UserFactory(), fields=fields, reason="核实身份")
    assert "fields" in excinfo.value.message_dict
    assert not AuditEntry.objects.filter(action="reveal").exists()


def test_register_personal_fields_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        register_personal_fields("core.unit", {"contact_phone": "iban"})


@pytest.mark.django_db
def test_masked_repr_hides_personal_values():
    # A unit's name is not personal data, but its contact person's name is; a repr that
    # happened to contain it must come out masked.
    subject = UnitFactory(name_zh="欧阳娜娜服务站", contact_name="欧阳娜娜")
    assert masked_repr(subject) == "欧***服务站"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"category": "核实身份", "detail": ""}, "核实身份"),
        ({"category": "执法取证", "detail": " 案件 2026-17 "}, "执法取证：案件 2026-17"),
        ({"category": "其他", "detail": "领导交办"}, "其他：领导交办"),
        ({"category": "", "detail": "随便看看"}, None),
        ({"category": "其他", "detail": "  "}, None),
        ({"category": "好奇", "detail": ""}, None),
    ],
)
def test_reveal_form_builds_the_audited_reason(data, reason):
    form = RevealForm(data)
    assert form.is_valid() is (reason is not None)
    if reason is not None:
        assert form.cleaned_data["reason"] == reason


# ---- template filter and serializer field --------------------------------------------------

TEMPLATE = Template(
    '{% load masking %}{{ phone|mask:"phone" }}|{{ plate|mask:"plate" }}|{{ phone|masked:"phone" }}'
)
VALUES = {"phone": "13812345678", "plate": "京A12345"}


@pytest.mark.django_db
def test_template_filter_masks_for_ordinary_users():
    with context.acting_as(UserFactory(), channel="web"):
        assert TEMPLATE.render(Context(VALUES)) == "138****5678|京A·***45|138****5678"
    assert TEMPLATE.render(Context(VALUES)) == "138****5678|京A·***45|138****5678"  # nobody acting


@pytest.mark.django_db
def test_template_filter_masks_for_the_reveal_permission_too(revealer):
    with context.acting_as(revealer, channel="web"):
        assert TEMPLATE.render(Context(VALUES)) == "138****5678|京A·***45|138****5678"


class PersonSerializer(serializers.Serializer):
    phone = MaskedField(kind="phone")
    name = MaskedField(kind="name")


@pytest.mark.django_db
def test_masked_field_masks_for_every_caller(revealer):
    person = {"phone": "13812345678", "name": "张三"}
    request = RequestFactory().get("/")
    request.user = UserFactory()
    assert PersonSerializer(person, context={"request": request}).data == {
        "phone": "138****5678",
        "name": "张*",
    }
    assert PersonSerializer(person).data == {"phone": "138****5678", "name": "张*"}
    request.user = revealer  # holding the permission reveals nothing by itself
    assert PersonSerializer(person, context={"request": request}).data == {
        "phone": "138****5678",
        "name": "张*",
    }


def test_masked_field_refuses_an_unknown_kind():
    with pytest.raises(ValueError):
        MaskedField(kind="iban")
