"""The event stream for `LedgerClient`: `GET /v1/events` (Server-Sent Events) over httpx.

Rules:

- `events()` yields committed blocks and new alerts in the caller's scope, in order, each once
  (`client_sdk.events.EventCursor`), reconnecting with backoff and resuming after a failure or a
  dropped stream; errors that retrying cannot fix (`events.final_error`) are raised.
- Block events are verified against the genesis unless the client has `verify_events=False`;
  alert events, unless it has `verify_events=False` or `verify_reads=False`, are checked by
  reading the alert with its proof (`client_sdk.readcore.alert_event_flow`) before they are
  yielded: that waits until the state of the alert's height is certified (exec_lag blocks).
- A stream quiet for longer than EVENTS_READ_TIMEOUT_S (no keep-alive) counts as a failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

import httpx

from client_sdk import core, readcore
from client_sdk.clientbase import EVENTS_READ_TIMEOUT_S, RECONNECT_FIRST_S, RECONNECT_MAX_S
from client_sdk.errors import ApiError, TransportError, UnknownEpochError
from client_sdk.events import EventCursor, SseParser, final_error, kinds_of
from client_sdk.models import Event
from client_sdk.sync_http import SyncDriver
from client_sdk.tls import certificate_error, certificate_failure


class EventMethods(SyncDriver):
    """`LedgerClient`'s event stream."""

    def events(
        self,
        *,
        after_height: int | None = None,
        kinds: Iterable[str] | None = None,
        timeout_s: float | None = None,
        reconnect: bool = True,
    ) -> Iterator[Event]:
        """Committed blocks and new alerts in your scope, as they happen (`GET /v1/events`).

        From `after_height` (default: from now), in order, each once, reconnecting and resuming
        after a failure or a dropped stream. Stops after `timeout_s` seconds when given; otherwise
        runs until the caller stops iterating. Block events are verified against the genesis."""
        cursor = EventCursor(
            after_height,
            self.genesis if self.verify_events else None,
            kinds_of(kinds),
            anchor_ref=self._anchor,
        )
        end = None if timeout_s is None else time.monotonic() + timeout_s
        backoff = core.Backoff(RECONNECT_FIRST_S, RECONNECT_MAX_S)
        while end is None or time.monotonic() < end:
            try:
                for event in self._stream(cursor, end):
                    backoff = core.Backoff(RECONNECT_FIRST_S, RECONNECT_MAX_S)
                    yield event
                if end is not None and time.monotonic() >= end:
                    return
            except ApiError as exc:
                if final_error(exc) or not reconnect:
                    raise
            except TransportError:
                if not reconnect:
                    raise
            except UnknownEpochError:
                self._learn_epochs(self._get("/v1/validators", min_height=0))
                continue  # resume from the cursor with the new epochs
            wait = backoff.wait()
            if end is not None:
                wait = min(wait, max(0.0, end - time.monotonic()))
            time.sleep(wait)

    def _checked_event(self, event: Event) -> Event:
        if event.kind == "block":
            self._block_event(event)
            return event
        if self.verify_events and self._reads.verifier is not None:
            return self.run(readcore.alert_event_flow(self._reads, event, deadline=self._deadline()))
        return event

    def _stream(self, cursor: EventCursor, end: float | None) -> Iterator[Event]:
        call = core.Call("GET", "/v1/events", core.params_of(**cursor.params()))
        read_timeout = EVENTS_READ_TIMEOUT_S
        if end is not None:
            read_timeout = max(0.05, min(read_timeout, end - time.monotonic()))
        timeout = httpx.Timeout(self.timeout_s, read=read_timeout)
        parser = SseParser()
        try:
            with self._http.stream(
                "GET", self.url + call.target, headers={"accept": "text/event-stream"}, timeout=timeout
            ) as resp:
                if resp.status_code != 200:
                    resp.read()
                    try:
                        doc = resp.json()
                    except ValueError:
                        doc = None
                    raise core.error_of(call, core.Reply(resp.status_code, doc))
                for chunk in resp.iter_text():
                    for msg in parser.feed(chunk):
                        event = cursor.accept(msg)
                        if event is not None:
                            yield self._checked_event(event)
                    if end is not None and time.monotonic() >= end:
                        return
        except httpx.ReadTimeout:
            if end is not None and time.monotonic() >= end:
                return
            raise TransportError("the event stream went quiet (no keep-alive)") from None
        except httpx.HTTPError as exc:
            failure = certificate_failure(exc)
            if failure is not None:
                raise certificate_error(self.url, failure) from exc
            raise TransportError(f"event stream: {type(exc).__name__}: {exc}") from exc
