"""Masking of ID numbers in every log record the process writes (docs/privacy.md, issue 8 point 5).

`install_log_masking()` replaces the logging record factory: every record's message (after its
arguments are merged), its exception text and its stack text pass through
`wire.idnumber.mask_text`, so an 18-character ID number shows at most its first 6 and last
4 characters whatever logger, handler or formatter writes it (uvicorn's too). Idempotent.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

from wire.idnumber import mask_text

_installed = False


class MaskedLogRecord(logging.LogRecord):
    """A record whose rendered message, exception and stack texts are masked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.exc_info and self.exc_info[0] is not None:
            self.exc_text = mask_text("".join(traceback.format_exception(*self.exc_info)).rstrip("\n"))
        if self.stack_info:
            self.stack_info = mask_text(self.stack_info)

    def getMessage(self) -> str:
        return mask_text(super().getMessage())


def install_log_masking() -> None:
    global _installed
    if _installed:
        return
    logging.setLogRecordFactory(MaskedLogRecord)
    _installed = True
