"""``govcenter ops duty generate --from DATE --to DATE --team u1,u2,… [--leaders l1,…] [--unit CODE]
[--replace]``: fill the 7×24 roster in a fair rotation (see ``govcenter.ops.duty.roster``);
``govcenter ops duty check --from DATE --to DATE [--unit CODE]``: list the gaps (exit 2 when
there are any); ``govcenter ops duty who [--at ISO]``: who is on duty. A rule violation or bad
input exits 2 with one line."""

from __future__ import annotations

import datetime as dt
import json

from govcenter.core.management.base import UsageError


def register(subparsers) -> None:
    p = subparsers.add_parser("duty", help="the 7×24 duty roster: generate, check for gaps, who is on duty")
    sub = p.add_subparsers(dest="duty_action", required=True)  # the one-line parser class, inherited
    gen = sub.add_parser("generate", help="fill a date range in a fair rotation")
    gen.add_argument("--from", dest="start", required=True, help="first date (YYYY-MM-DD)")
    gen.add_argument("--to", dest="end", required=True, help="last date (YYYY-MM-DD)")
    gen.add_argument("--team", required=True, help="engineers' usernames, comma separated")
    gen.add_argument("--leaders", default="", help="duty leaders' usernames (needed for holidays and guard days)")
    gen.add_argument("--unit", help="the O&M unit's code (default: the first engineer's unit)")
    gen.add_argument("--replace", action="store_true", help="replace the assignments already in the range")
    chk = sub.add_parser("check", help="list the spans no engineer covers")
    chk.add_argument("--from", dest="start", required=True)
    chk.add_argument("--to", dest="end", required=True)
    chk.add_argument("--unit", required=True, help="the O&M unit's code")
    who = sub.add_parser("who", help="who is on duty now or at --at")
    who.add_argument("--at", help="ISO 8601 (Beijing time when no offset)")
    p.set_defaults(handler=handle_duty)


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"ops duty: {option} {text!r} is not a date (YYYY-MM-DD)") from None


def _users(text: str, option: str) -> list:
    from govcenter.core.models import User

    names = [n.strip() for n in text.split(",") if n.strip()]
    found = {u.username.lower(): u for u in User.objects.filter(username__in=names)}
    missing = [n for n in names if n.lower() not in found]
    if missing:
        raise UsageError(f"ops duty: {option}: no such user {', '.join(missing)}")
    return [found[n.lower()] for n in names]


def _unit(code: str):
    from govcenter.core.models import Unit

    unit = Unit.objects.filter(code=code.strip()).first()
    if unit is None:
        raise UsageError(f"ops duty: --unit: no unit {code!r}")
    return unit


def handle_duty(command, options: dict) -> None:
    from govcenter.core.api.errors import ServiceError
    from govcenter.core.context import acting_as
    from govcenter.ops.duty import roster
    from govcenter.ops.sla import TZ

    action = options["duty_action"]
    try:
        if action == "generate":
            start, end = _date(options["start"], "--from"), _date(options["end"], "--to")
            team = _users(options["team"], "--team")
            leaders = _users(options["leaders"], "--leaders") if options["leaders"] else []
            unit = _unit(options["unit"]) if options.get("unit") else team[0].unit
            if unit is None:
                raise UsageError("ops duty: --unit is needed (the first engineer has no unit)")
            with acting_as(None, channel="cli"):
                made = roster.roster_generate(actor=None, unit=unit, start=start, end=end, team=team,
                                              leaders=leaders, replace=options["replace"])  # fmt: skip
            counts: dict[str, dict[str, int]] = {}
            for a in made:
                for user in (a.primary, a.backup):
                    if user is None:
                        continue
                    row = counts.setdefault(user.username, {"workday": 0, "holiday": 0, "night": 0, "backup": 0})
                    if user == a.backup:
                        row["backup"] += 1
                    else:
                        row["workday" if a.day_kind == "workday" else "holiday"] += 1
                        row["night"] += int(a.shift.is_night)
            command.stdout.write(json.dumps({"unit": unit.code, "created": len(made), "per_person": counts},
                                            ensure_ascii=False, indent=2))  # fmt: skip
        elif action == "check":
            start, end = _date(options["start"], "--from"), _date(options["end"], "--to")
            unit = _unit(options["unit"])
            shifts = roster.active_shifts()
            begin = roster.shift_span(shifts[0], start)[0]
            finish = roster.shift_span(shifts[-1], end)[1]
            gaps = roster.coverage_gaps(unit=unit, start=begin, end=finish)
            command.stdout.write(json.dumps({"from": begin.isoformat(), "to": finish.isoformat(),
                                             "gaps": [[a.astimezone(TZ).isoformat(), b.astimezone(TZ).isoformat()]
                                                      for a, b in gaps]}, ensure_ascii=False, indent=2))  # fmt: skip
            if gaps:
                raise UsageError(f"ops duty check: {len(gaps)} gap(s) in the roster of {unit.code}")
        else:
            at = None
            if options.get("at"):
                try:
                    at = dt.datetime.fromisoformat(options["at"].strip())
                except ValueError:
                    raise UsageError(f"ops duty: --at {options['at']!r} is not an ISO 8601 time") from None
                at = at.replace(tzinfo=TZ) if at.tzinfo is None else at
            seats = [roster.seat_dict(a) for a in roster.who_is_on_duty(at)]
            command.stdout.write(json.dumps(seats, ensure_ascii=False, indent=2))
    except ServiceError as exc:
        raise UsageError(f"ops duty {action}: {exc.detail}") from None
