"""Periodic jobs of the bike-share app (Huey, discovered from every app's ``tasks`` module)."""

from __future__ import annotations

import functools
import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

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
