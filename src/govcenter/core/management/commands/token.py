"""``govcenter token create USERNAME NAME [--days N]`` · ``govcenter token revoke PREFIX``."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from ...api.errors import ServiceError
from ...context import acting_as
from ...models import ApiToken, User
from ...tokens import api_token_create, api_token_revoke
from ..base import GovcenterCommand, UsageError


class Command(GovcenterCommand):
    help = "Create (prints the raw token once) or revoke API bearer tokens."

    def add_arguments(self, parser):
        sub = self.add_subcommands(parser)
        create = sub.add_parser("create", help="issue a token for USERNAME and print it once")
        create.add_argument("username")
        create.add_argument("name")
        create.add_argument("--days", type=int, default=None, help="expire after N days (default: never)")
        revoke = sub.add_parser("revoke", help="revoke the token whose prefix is PREFIX")
        revoke.add_argument("prefix")

    def handle(self, *args, **options):
        with acting_as(None, channel="cli"):
            if options["action"] == "create":
                self.create(options["username"], options["name"], options["days"])
            else:
                self.revoke(options["prefix"])

    def create(self, username: str, name: str, days: int | None) -> None:
        user = User.objects.filter(username__iexact=username).first()
        if user is None:
            raise UsageError(f"no user named {username!r}")
        if days is not None and days < 1:
            raise UsageError("--days must be at least 1")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            raw = api_token_create(user=user, name=name, expires_at=expires_at)
        except ServiceError as exc:
            raise UsageError(str(exc.detail)) from None
        self.stdout.write(raw)

    def revoke(self, prefix: str) -> None:
        tokens = list(ApiToken.objects.filter(prefix=prefix)[:2])
        if len(tokens) != 1:
            raise UsageError(f"no single token with prefix {prefix!r}")
        api_token_revoke(token=tokens[0])
        self.stdout.write(f"revoked {prefix}")
