"""Congestion-relief cases at archive scale, written in bulk (for ``bench/`` and load tests):
``load_scale_cases(cases=100_000)`` spreads suggestions over the last five years at the places
and on the topics of the demo year, assigns the handled ones to the handling units
(``demo_org``), and writes their search documents — the same rows the services write, without
replaying each step (history, audit and notices are not generated: a list and a search do not
read them). Not for a database anyone works in."""

from __future__ import annotations

import datetime as dt
import functools
import random

import numpy as np
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from govcenter.core import search
from govcenter.core.calendar import add_workdays
from govcenter.core.districts import get_index
from govcenter.core.models import District, SearchDocument

from .demo import ISSUES, SURNAMES, TOPIC_BUREAU, YEAR_PLACES
from .demo_org import district_unit, handling_units
from .models import CaseSequence, CaseUnit, Suggestion
from .services.suggestions import PREFIX

BATCH = 5000
CHANNELS = ("public_form", "hotline", "letter", "staff")


@functools.cache
def _tokens(text: str) -> str:
    return " ".join(search.tokens(text))


def load_scale_cases(*, cases: int = 100_000, years: int = 5, seed: int = 1, progress=None) -> dict[str, int]:
    """``cases`` suggestions over the last ``years`` years (state by age: older ones closed, this
    year's in every state), with their unit parts and search documents; returns counts."""
    rng = random.Random(seed)  # noqa: S311 (synthetic data)
    units = handling_units()
    by_code = {u.code: u for u in units}
    districts = {d.code: d for d in District.objects.all()}
    index = get_index()
    place_district = {}
    for name, lon, lat in YEAR_PLACES:
        code = str(index.lookup_codes(np.array([lon]), np.array([lat]))[0])
        place_district[name] = districts.get(code)
    now = timezone.now()
    today = timezone.localdate()
    first_year = today.year - years + 1
    ct = ContentType.objects.get_for_model(Suggestion)
    numbers = dict(CaseSequence.objects.filter(prefix=PREFIX).values_list("year", "last"))
    made = {"suggestions": 0, "unit_parts": 0, "documents": 0}
    for start in range(0, cases, BATCH):
        rows, specs = [], []
        for _ in range(min(BATCH, cases - start)):
            year = rng.randint(first_year, today.year)
            last_day = today if year == today.year else dt.date(year, 12, 31)
            day = dt.date(year, 1, 1) + dt.timedelta(
                days=rng.randrange((last_day - dt.date(year, 1, 1)).days + 1)
            )
            created = timezone.make_aware(
                dt.datetime.combine(day, dt.time(8 + rng.randrange(10), rng.randrange(60)))
            )
            if created > now:
                created = now - dt.timedelta(minutes=rng.randrange(1, 600))
            topic = rng.choice(list(ISSUES))
            place, lon, lat = rng.choice(YEAR_PLACES)
            title, body = ISSUES[topic]
            age = (today - day).days
            state = (
                rng.choices(["closed", "merged", "assigned"], weights=[95, 4, 1])[0]
                if age > 60
                else rng.choices(["submitted", "assigned", "replied", "closed"], weights=[10, 40, 15, 35])[0]
            )
            numbers[year] = numbers.get(year, 0) + 1
            district = place_district[place]
            unit = (
                by_code.get(TOPIC_BUREAU.get(topic, ""))
                or district_unit(units, district)
                or by_code["CG-JTW"]
            )
            deadline = add_workdays(day, 15) if state != "submitted" else None
            rows.append(
                Suggestion(
                    number=f"{PREFIX}-{year}-{numbers[year]:05d}",
                    year=year,
                    title=f"{place}{title}",
                    body=body,
                    district=district,
                    location={"type": "Point", "coordinates": [lon, lat], "datum": "GCJ-02"},
                    deadline=deadline,
                    created_at=created,
                    closed_at=created + dt.timedelta(days=20) if state in ("closed", "merged") else None,
                    state=state,
                    channel=rng.choice(CHANNELS),
                    topic=topic,
                    proposer_name=f"{rng.choice(SURNAMES)}先生",
                    proposer_phone=f"139{rng.randrange(10**8):08d}",
                    reply="已会同相关单位完成整改。" if state in ("replied", "closed") else "",
                    satisfaction="satisfied" if state == "closed" else "",
                )
            )
            specs.append((unit, deadline, created, state))
        with transaction.atomic():
            Suggestion.objects.bulk_create(rows, batch_size=BATCH)
            links = [
                CaseUnit(
                    content_type=ct,
                    object_id=s.pk,
                    unit=unit,
                    role="lead",
                    deadline=deadline,
                    assigned_at=created,
                )
                for s, (unit, deadline, created, state) in zip(rows, specs, strict=True)
                if state not in ("submitted", "merged")
            ]
            CaseUnit.objects.bulk_create(links, batch_size=BATCH)
            SearchDocument.objects.bulk_create(
                (
                    SearchDocument(
                        kind="congestion.suggestion", object_id=s.pk, title=s.title,
                        tokens=_tokens(f"{s.title}\n{s.number}\n{s.body}\n{s.reply}"), updated_at=now,
                    )
                    for s in rows
                ),
                batch_size=BATCH,
            )  # fmt: skip
        made["suggestions"] += len(rows)
        made["unit_parts"] += len(links)
        made["documents"] += len(rows)
        if progress is not None:
            progress("cases", made["suggestions"] / cases)
    for year, last in numbers.items():
        seq, _ = CaseSequence.objects.get_or_create(prefix=PREFIX, year=year)
        seq.last = max(seq.last, last)
        seq.save(update_fields=["last"])
    return made
