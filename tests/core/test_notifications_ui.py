"""The in-app inbox: the page, the badge in the top bar, opening and marking read, and the API —
each user sees only their own notifications."""

from __future__ import annotations

import pytest
from django.urls import reverse

from govcenter.core import notifications
from govcenter.core.models import AuditEntry, Notification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return UserFactory(username="n_me"), UserFactory(username="n_other")


def test_the_page_and_badge_show_only_ones_own_and_opening_marks_read(client, people):
    me, other = people
    (mine,) = notifications.notify([me], verb="assigned", title="新督办事项：东直门桥区改造", url="/calendar/")
    notifications.notify([other], verb="assigned", title="别人的事项")
    client.force_login(me)
    page = client.get(reverse("core:notification_list"))
    body = page.content.decode()
    assert page.status_code == 200 and "新督办事项：东直门桥区改造" in body and "别人的事项" not in body
    assert 'id="shell-notifications"' in body and "badge-notification" in body
    opened = client.post(reverse("core:notification_open", args=[mine.pk]))
    assert opened.status_code == 302 and opened["Location"] == "/calendar/"
    assert Notification.objects.get(pk=mine.pk).read_at is not None
    (entry,) = AuditEntry.objects.filter(action="notification.read")
    assert entry.changes["ids"] == [mine.pk] and entry.user_id == me.pk
    client.post(reverse("core:notification_open", args=[mine.pk]))  # already read: no second entry
    assert AuditEntry.objects.filter(action="notification.read").count() == 1
    assert "badge-notification" not in client.get(reverse("core:notification_list")).content.decode()
    theirs = Notification.objects.get(recipient=other)
    assert client.post(reverse("core:notification_open", args=[theirs.pk])).status_code == 404
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_an_outside_link_is_never_followed_and_read_all_clears(client, people):
    me, _other = people
    (n,) = notifications.notify([me], verb="x", title="t", url="//evil.example/")
    notifications.notify([me], verb="x", title="u")
    client.force_login(me)
    response = client.post(reverse("core:notification_open", args=[n.pk]))
    assert response["Location"] == reverse("core:notification_list")
    assert client.post(reverse("core:notification_read_all")).status_code == 302
    assert notifications.unread_count(me) == 0
    assert "没有未读通知" in client.get(reverse("core:notification_list") + "?unread=1").content.decode()


def test_api_lists_own_and_marks_read(client, people):
    me, other = people
    notifications.notify([me, other], verb="urge", title="催办", level="warning")
    notifications.notify([me], verb="assigned", title="新事项")
    client.force_login(me)
    listed = client.get("/api/v1/notifications/?unread=1").json()
    assert [r["title"] for r in listed["results"]] == ["新事项", "催办"]
    first = listed["results"][0]["id"]
    done = client.post("/api/v1/notifications/read/", {"ids": [first]}, content_type="application/json").json()
    assert done == {"marked": 1, "unread": 1}
    bad = client.post("/api/v1/notifications/read/", {"ids": ["x"]}, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()) == {"code", "message", "details"}
    assert client.post("/api/v1/notifications/read/", {}, content_type="application/json").json() == {"marked": 1, "unread": 0}
    assert notifications.unread_count(other) == 1
    client.logout()
    assert client.get("/api/v1/notifications/").status_code in (401, 403)


def test_a_form_beyond_djangos_field_limit_is_a_400_not_a_500(client, people, settings):
    """Django refuses a body over DATA_UPLOAD_MAX_NUMBER_FIELDS while DRF parses it (schemathesis found it)."""
    me, _other = people
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client.force_login(me)
    body = "&".join(f"ids={i}" for i in range(11))
    response = client.post("/api/v1/notifications/read/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["code"] == "too_many_fields" and set(response.json()) == {"code", "message", "details"}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = client.post("/api/v1/notifications/read/", {"ids": list(range(200))}, content_type="application/json")
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"
