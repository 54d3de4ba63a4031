"""Session idle timeout (settings-driven) and logout destroying the session."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from govcenter.core.models import AuditEntry
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _login(client):
    user = UserFactory()
    client.post(reverse("core:login"), {"username": user.username, "password": DEFAULT_PASSWORD})
    assert client.get(reverse("core:dashboard")).status_code == 200
    return user


def test_idle_timeout_comes_from_the_setting():
    assert settings.SESSION_COOKIE_AGE == settings.GOVCENTER_SESSION_IDLE_MINUTES * 60 == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST


def test_each_request_pushes_the_expiry_forward(client):
    _login(client)
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(minutes=1))
    assert client.get(reverse("core:dashboard")).status_code == 200
    remaining = Session.objects.get(session_key=key).expire_date - timezone.now()
    assert timedelta(minutes=29) < remaining <= timedelta(minutes=30)


def test_an_idle_session_expires(client):
    _login(client)
    key = client.session.session_key
    # 30 idle minutes have passed: the stored expiry is now behind us.
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("core:dashboard"))
    assert response.status_code == 302 and response.url.startswith(reverse("core:login"))


def test_logout_destroys_the_session_and_is_audited(client):
    user = _login(client)
    key = client.session.session_key
    response = client.post(reverse("core:logout"))
    assert response.status_code == 302 and response.url == reverse("core:login")
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get(reverse("core:dashboard")).status_code == 302
    entry = AuditEntry.objects.get(action="logout")
    assert entry.user_id == user.pk


def test_logout_needs_post(client):
    _login(client)
    assert client.get(reverse("core:logout")).status_code == 405
    assert client.get(reverse("core:dashboard")).status_code == 200
