"""Logs that a client cannot flood (issue 18.4): identical warnings are rate-limited.

Rules:

- `RepeatFilter` passes every record below WARNING. Records of WARNING and above are keyed by
  logger, level and message template (the format string, not its arguments, so one warning
  about many clients is one key). Within a window of `window_s` seconds the first `burst` of a
  key pass as they are; the next one passes once, shortened (no traceback) and marked
  `[repeated: identical messages suppressed for up to N s]`; the rest of the window is dropped.
  The first record of the key after the window says how many were dropped.
- At most `max_keys` keys are remembered (least recently used forgotten), so the filter itself
  is bounded whatever is logged.
- `install_log_limits(filter)` attaches one filter to every handler of the root logger and of
  uvicorn's loggers; the composition root (`node/app.py`) calls it once uvicorn has configured
  its logging. A record that reaches several handlers is judged once.
- An aborted request writes nothing at all: a client gone mid-body is a coded error without a
  log line (`node/api/body.py`), so only real problems reach this filter.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
_VERDICT = "_orgledger_repeat_verdict"


@dataclass(slots=True)
class _Seen:
    start: float
    count: int = 0
    dropped: int = 0
    earlier_dropped: int = 0


class RepeatFilter(logging.Filter):
    def __init__(
        self,
        burst: int = 5,
        window_s: float = 60.0,
        max_keys: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst, self.window_s, self.max_keys, self.clock = burst, window_s, max_keys, clock
        self._seen: OrderedDict[tuple[str, int, str], _Seen] = OrderedDict()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        done = getattr(record, _VERDICT, None)
        if done is not None:
            return bool(done)
        verdict = self._judge(record)
        setattr(record, _VERDICT, verdict)
        return verdict

    def _judge(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, str(record.msg)[:300])
        now = self.clock()
        seen = self._seen.pop(key, None)
        if seen is None or now - seen.start >= self.window_s:
            earlier = seen.dropped if seen is not None else 0
            seen = _Seen(start=now, earlier_dropped=earlier)
        self._seen[key] = seen
        while len(self._seen) > self.max_keys:
            self._seen.popitem(last=False)
        seen.count += 1
        if seen.count == 1 and seen.earlier_dropped:
            _append(record, f" [{seen.earlier_dropped} identical messages were suppressed]")
        if seen.count <= self.burst:
            return True
        if seen.count == self.burst + 1:
            record.exc_info, record.exc_text, record.stack_info = None, None, None
            _append(record, f" [repeated: identical messages suppressed for up to {self.window_s:.0f} s]")
            return True
        seen.dropped += 1
        self.dropped += 1
        return False


def _append(record: logging.LogRecord, note: str) -> None:
    record.msg = str(record.msg) + note  # the notes hold no % (the message may be %-formatted)


def install_log_limits(flt: RepeatFilter, loggers: Iterable[str] = LOGGERS) -> None:
    """Attach `flt` to every handler of `loggers` that has no RepeatFilter yet."""
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RepeatFilter) for f in handler.filters):
                handler.addFilter(flt)
