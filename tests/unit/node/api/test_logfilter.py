"""Logs cannot be flooded (issue 18.4): identical warnings are rate-limited by `RepeatFilter`, the
filter is bounded, and a record seen by several handlers is judged once."""

from __future__ import annotations

import logging

from node.api.logfilter import RepeatFilter, install_log_limits


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _logger(name: str, flt: RepeatFilter) -> tuple[logging.Logger, Lines]:
    log = logging.getLogger(name)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.handlers.clear()
    out = Lines()
    out.addFilter(flt)
    log.addHandler(out)
    return log, out


def test_identical_warnings_are_limited_per_window() -> None:
    clock = Clock()
    log, out = _logger("test.logfilter.a", RepeatFilter(burst=3, window_s=60, clock=clock))
    for i in range(1000):
        log.warning("client %s sent garbage", i)
    assert out.lines[:3] == ["client 0 sent garbage", "client 1 sent garbage", "client 2 sent garbage"]
    assert len(out.lines) == 4 and "suppressed for up to 60 s" in out.lines[3]
    log.warning("another problem")  # another template: its own budget
    log.info("info is never limited")
    assert out.lines[-2:] == ["another problem", "info is never limited"]
    clock.t = 61
    log.warning("client %s sent garbage", "x")
    assert out.lines[-1] == "client x sent garbage [996 identical messages were suppressed]"


def test_the_shortened_record_drops_its_traceback() -> None:
    log, out = _logger("test.logfilter.b", RepeatFilter(burst=1, window_s=60, clock=Clock()))
    for _ in range(3):
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    assert len(out.lines) == 2
    assert "Traceback" in out.lines[0] and "Traceback" not in out.lines[1]


def test_bounded_and_judged_once_across_handlers() -> None:
    flt = RepeatFilter(burst=2, window_s=60, max_keys=10, clock=Clock())
    log, out = _logger("test.logfilter.c", flt)
    second = Lines()
    second.addFilter(flt)
    log.addHandler(second)
    for i in range(100):
        log.warning(f"distinct {i}")  # a new template every time
    assert len(flt._seen) == 10
    for _ in range(5):
        log.warning("same")
    assert out.lines[-3:] == second.lines[-3:] and len(out.lines) == len(second.lines) == 103


def test_install_attaches_once() -> None:
    _, out = _logger("test.logfilter.d", RepeatFilter())
    install_log_limits(RepeatFilter(), ["test.logfilter.d"])
    install_log_limits(RepeatFilter(), ["test.logfilter.d"])
    assert sum(isinstance(f, RepeatFilter) for f in out.filters) == 1
