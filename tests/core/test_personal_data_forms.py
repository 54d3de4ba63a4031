"""Edit forms never show stored personal data, and masked values can't be saved back."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from govcenter.core.models import User
from tests.helpers.org import build_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return build_org()


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_user_edit_form_shows_the_masked_value_as_placeholder_only(org):
    user = org.manager_dc
    user.full_name, user.phone = "张三丰", "13912345678"
    user.save()
    html = _client(org.sysadmin).get(reverse("core:user_edit", args=[user.pk])).content.decode()
    assert "13912345678" not in html and "张三丰" not in html
    assert 'placeholder="139****5678"' in html


def test_empty_personal_fields_keep_the_stored_values(org):
    user = org.manager_dc
    user.full_name, user.phone = "张三丰", "13912345678"
    user.save()
    response = _client(org.sysadmin).post(
        reverse("core:user_edit", args=[user.pk]),
        {"full_name": "", "phone": "", "email": "", "unit": user.unit_id, "roles": [r.pk for r in user.roles.all()]},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.full_name, user.phone) == ("张三丰", "13912345678")


def test_a_new_value_replaces_the_stored_one(org):
    user = org.manager_dc
    response = _client(org.sysadmin).post(
        reverse("core:user_edit", args=[user.pk]),
        {"full_name": "李四", "phone": "13700000000", "email": "", "unit": user.unit_id,
         "roles": [r.pk for r in user.roles.all()]},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.full_name, user.phone) == ("李四", "13700000000")


@pytest.mark.parametrize("field,value", [("phone", "139****5678"), ("full_name", "张*")])
def test_masked_values_are_refused_through_the_form(org, field, value):
    user = org.manager_dc
    before = (user.full_name, user.phone)
    data = {"full_name": "", "phone": "", "email": "", "unit": user.unit_id, "roles": [r.pk for r in user.roles.all()]}
    data[field] = value
    response = _client(org.sysadmin).post(reverse("core:user_edit", args=[user.pk]), data)
    assert response.status_code == 200 and field in response.context["form"].errors
    user.refresh_from_db()
    assert (user.full_name, user.phone) == before


def test_masked_phone_sent_back_through_the_api_is_refused(org):
    user = org.manager_dc
    client = _client(org.sysadmin)
    body = client.get(f"/api/v1/users/{user.pk}/").json()
    assert "*" in body["phone"]
    response = client.patch(f"/api/v1/users/{user.pk}/", {"phone": body["phone"]}, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()) == {"code", "message", "details"}
    assert User.objects.get(pk=user.pk).phone == user.phone
