"""Test helpers shared by the congestion tests: a logged-in client and a JSON POST."""

from __future__ import annotations

from django.test import Client

API = "/api/v1/congestion/"


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def post(c, url, data):
    return c.post(url, data, content_type="application/json")
