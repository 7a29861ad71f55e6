"""The start-up lines: what is served, how, and settings that do nothing here."""

from __future__ import annotations

import logging

from ..fixtures.files import FixtureSet
from ..settings.declarations import Settings
from ..settings.values import Mode, ReplayMode

log = logging.getLogger("leads_proxy")
RECORD_ONLY = ("anonymize", "record_as_default", "max_recordings")


def say_what_serves(settings: Settings, fixtures: FixtureSet | None) -> None:
    """The start-up lines: what is served, how, and settings that do nothing here."""
    if settings.mode is not Mode.RECORD:
        for name in RECORD_ONLY:
            if name in settings.model_fields_set:
                log.warning(
                    "--%s does nothing in %s mode: it is a record mode setting",
                    name.replace("_", "-"),
                    settings.mode.value,
                )
    if settings.mode is not Mode.MOCK and settings.rate_limit is not None:
        log.warning("--mock-rate-limit does nothing in %s mode", settings.mode.value)
    if fixtures is not None:
        log.info("fixtures from %s: examples %s", settings.fixtures, ", ".join(fixtures.names()))
        for warning in fixtures.warnings:
            log.warning("%s", warning)
    if settings.mode is Mode.MOCK and fixtures is not None:
        log.info("mock mode; auth %s", settings.mock_auth.value)
        if (
            fixtures is not None
            and fixtures.recordings
            and settings.replay is not ReplayMode.EMULATED
        ):
            keys = {recording.key for recording in fixtures.recordings}
            log.info(
                "replaying %d recordings (%d keys); --replay %s",
                len(fixtures.recordings),
                len(keys),
                settings.replay.value,
            )
        if settings.rate_limit is not None:
            log.info("mock mode: at most %s per API key", settings.mock_rate_limit)
        if settings.cache_url is not None:
            log.info("mock mode: --cache-url is not used")
    else:
        log.info(
            "%s mode to %s; ttl %gs, stale-while-revalidate %gs, stale-if-error %gs%s",
            settings.mode.value,
            settings.upstream_url,
            settings.ttl,
            settings.stale_while_revalidate,
            settings.stale_if_error,
            "; fallback to fixtures" if fixtures is not None else "",
        )
        if settings.cache_url is None and settings.workers > 1:
            log.warning(
                "%d workers without --cache-url: each caches on its own; "
                "add --cache-url to share one cache and one upstream budget",
                settings.workers,
            )
