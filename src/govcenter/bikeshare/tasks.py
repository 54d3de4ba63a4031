"""Periodic jobs of the bike-share app (Huey, discovered from every app's ``tasks`` module)."""

from __future__ import annotations

import datetime as dt
import functools
import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from govcenter.core.context import acting_as

log = logging.getLogger(__name__)


def pull_all() -> dict:
    """Pull every operator with a Provider endpoint or a GBFS URL, once.

    For a Provider endpoint, every kind of ``GOVCENTER_BIKESHARE_PULL_KINDS`` (default trips,
    events, telemetry) resumes from its remembered hour (``bikeshare.pull``); for a GBFS URL
    the vehicle status feed is read. One failure (HTTP, body, stream) is logged, counted in the
    pull state file and in the result, and the next pull goes on: the worker never sees an
    exception. Returns ``{"pulls", "errors", "accepted", "failed", "reports"}``.
    """
    from .pull import pull_gbfs, pull_provider, pullable_profiles, record_error, setting

    summary = {"pulls": 0, "errors": 0, "accepted": 0, "failed": 0, "reports": []}
    try:
        profiles = list(pullable_profiles())
    except Exception:
        log.exception("bikeshare pull: could not list the operator profiles")
        summary["errors"] += 1
        return summary
    for profile in profiles:
        operator = profile.operator
        jobs = []
        if profile.provider_api_url:
            for kind in setting("GOVCENTER_BIKESHARE_PULL_KINDS"):
                jobs.append((kind, functools.partial(pull_provider, operator, kind)))
        if profile.gbfs_url:
            jobs.append(("gbfs", functools.partial(pull_gbfs, operator, profile.gbfs_url)))
        for kind, job in jobs:
            summary["pulls"] += 1
            try:
                report = job()
            except Exception as exc:
                summary["errors"] += 1
                log.exception("bikeshare pull: %s %s failed", operator.code, kind)
                try:
                    record_error(operator, kind, f"{type(exc).__name__}: {exc}")
                except Exception:
                    log.exception("bikeshare pull: could not record the error of %s %s", operator.code, kind)
                continue
            summary["accepted"] += report.accepted
            summary["failed"] += report.failed
            summary["reports"].append(report.as_dict())
    return summary


# Every 5 minutes (Huey's crontab is UTC; irrelevant for */5, but mind it for hours).
@db_periodic_task(crontab(minute="*/5"), name="bikeshare.pull_operators")
def pull_operators_every_5_minutes() -> dict:
    """Every 5 minutes: pull MDS Provider data and GBFS vehicle status of the operators that offer them."""
    with acting_as(None, channel="task"):
        return pull_all()


def consume_all() -> dict:
    """Drain each ingest stream (events, telemetry, trips) into the lake and the live picture, once.

    What ``govcenter bikeshare consume --once`` does per kind. A kind whose consumer group is
    busy (the spool allows one consumer per group: a long-running ``consume`` process or the
    previous run still draining) or that fails is logged and skipped; what it did not ack is
    delivered again next time. Returns ``{kind: messages handled or an error text}``.
    """
    from django.conf import settings

    from .consumer import LIVE_KINDS, consume
    from .services.ingest import KINDS

    live_url = getattr(settings, "GOVCENTER_BIKESHARE_LIVE_URL", None) or None
    result: dict = {}
    for kind in KINDS:
        try:
            result[kind] = consume(
                kind,
                stream_url=getattr(settings, "GOVCENTER_STREAM_URL", None),
                lake_root=settings.GOVCENTER_LAKE_DIR,
                live=live_url if kind in LIVE_KINDS else None,
            )
        except RuntimeError as exc:  # the spool's group lock: another consumer is draining it
            log.info("bikeshare consume: %s skipped (%s)", kind, exc)
            result[kind] = f"busy: {exc}"
        except Exception as exc:
            log.exception("bikeshare consume: %s failed", kind)
            result[kind] = f"{type(exc).__name__}: {exc}"
    return result


# Every minute: with `make run` (no separate consumer process) pushed data reaches the lake and
# the live picture within a minute; at scale run `govcenter bikeshare consume --kind …` per kind
# beside it (this task then finds the groups busy and skips them).
@db_periodic_task(crontab(minute="*"), name="bikeshare.consume_streams")
def consume_streams_every_minute() -> dict:
    with acting_as(None, channel="task"):
        return consume_all()


# 派单: mark overdue orders every 5 minutes; issue orders for current violations every 15 minutes
# (GOVCENTER_BIKESHARE_WORKORDER_AUTO=false turns the generation off).
@db_periodic_task(crontab(minute="*/5"), name="bikeshare.workorders_sweep")
def workorders_sweep_every_5_minutes() -> dict:
    from .services.workorders import run_sweep

    with acting_as(None, channel="task"):
        return run_sweep()


@db_periodic_task(crontab(minute="*/15"), name="bikeshare.workorders_generate")
def workorders_generate_every_15_minutes() -> dict:
    from .services.workorders import run_generate

    with acting_as(None, channel="task"):
        return run_generate()


def reassign_live_fences() -> dict:
    """Re-place the configured live picture's bikes by the fences in force now (as the system).

    ``GOVCENTER_BIKESHARE_LIVE_URL`` empty: skipped; a SQLite store that does not exist yet:
    skipped (nothing to re-place, and opening it would create it). Every bike is re-read, even
    when the store's recorded fingerprint says it is current: this is the backstop that also
    repairs bikes a consumer wrote with an older index just before it stopped. Audited when
    some bike changed fence. Returns ``{"changed", "fences"}`` or ``{"skipped"}`` /
    ``{"error"}`` — the worker never sees an exception.
    """
    from pathlib import Path
    from urllib.parse import urlsplit

    from django.conf import settings

    from govcenter.core import audit

    from .live import fence_fingerprint, open_live_state
    from .services.fences import active_fence_index

    url = getattr(settings, "GOVCENTER_BIKESHARE_LIVE_URL", None) or None
    if not url:
        return {"skipped": "no live store"}
    if urlsplit(url).scheme.lower() == "sqlite" and not Path(url.split("://", 1)[1]).exists():
        return {"skipped": "the live store does not exist yet"}
    try:
        index = active_fence_index()
        with open_live_state(url, fences=index) as live:
            changed = live.reassign_fences(index)
        if changed:
            audit.record(
                action="bikeshare.live.reassign_fences",
                object_type="bikeshare.live",
                object_repr=f"{changed} bikes re-placed in {len(index)} fences",
                changes={"changed": changed, "fences": len(index), "fingerprint": fence_fingerprint(index)},
            )
    except Exception as exc:
        log.exception("bikeshare live: re-assigning fences failed")
        return {"error": f"{type(exc).__name__}: {exc}"}
    log.info("bikeshare live: %d bikes re-placed in %d fences", changed, len(index))
    return {"changed": changed, "fences": len(index)}


# On demand: services/fences.py enqueues it when a fence write commits.
@db_task(name="bikeshare.reassign_live_fences")
def reassign_live_fences_task() -> dict:
    with acting_as(None, channel="task"):
        return reassign_live_fences()


# 00:02 Asia/Shanghai (Huey's crontab is UTC): fences whose validity ended yesterday or starts
# today change the index at midnight without any write. Consumers notice the new day themselves;
# this covers a store nobody is consuming into (and is the nightly backstop).
@db_periodic_task(crontab(hour="16", minute="2"), name="bikeshare.reassign_live_fences_nightly")
def reassign_live_fences_after_midnight() -> dict:
    with acting_as(None, channel="task"):
        return reassign_live_fences()


def _rollups(**options) -> dict:
    from .rollups import refresh_lake

    with acting_as(None, channel="task"):
        try:
            report = refresh_lake(**options)
        except Exception as exc:  # the worker never sees an exception; the next run retries
            log.exception("bikeshare rollups: refresh failed")
            return {"error": f"{type(exc).__name__}: {exc}"}
    log.info("bikeshare rollups: %d updated, %d removed in %.1f s", len(report["built"]), report["removed"],
             report["seconds"])  # fmt: skip
    return {k: report[k] for k in ("checked", "removed", "seconds")} | {"built": len(report["built"])}


# Every 5 minutes: today's, yesterday's and the day before's rollups take the trips files written
# since (late trips land in the day they started; compaction runs at 02:50 Beijing), so analyses
# 1 and 7 scan only minutes of raw trips.
@db_periodic_task(crontab(minute="*/5"), name="bikeshare.rollups_recent")
def rollups_recent_every_5_minutes() -> dict:
    """The rollups of the last three Beijing days brought up to date (``bikeshare.rollups``)."""
    from django.utils import timezone

    today = timezone.localdate()
    return _rollups(first=today - dt.timedelta(days=2), last=today)


# Every hour at :20: every partition's (backfills and anything older that changed).
@db_periodic_task(crontab(minute="20"), name="bikeshare.rollups_refresh")
def rollups_refresh_every_hour() -> dict:
    """Every rollup of the lake brought up to date; audited when it changed any."""
    return _rollups()
