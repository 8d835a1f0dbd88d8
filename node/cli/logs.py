"""How `orgledger node run` writes its log: one readable line, or one JSON object a line.

Rules:

- `[log] format = "text"` (default): `time level node_id logger: message`. `"json"` (or
  `ORGLEDGER_LOG_FORMAT=json`): one JSON object a line with `ts` (UTC, ISO 8601), `level`,
  `logger`, `msg`, `node_id`, `height` (the record's own, else the node's current height once it
  is built), and `tx_id`, `request_id`, `exc` where the record carries them (a log call passes
  `extra={"tx_id": ..., "request_id": ...}`).
- ID numbers are masked in every record whatever the format: the masking record factory is
  installed here (`node/privacy/logmask.py`), and the JSON formatter masks the message and
  exception text it writes once more, so no path around the factory leaks a number.
- Nothing is module-global: `configure_logging` returns the formatter, and the caller binds the
  node's height to it once the node exists.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from node.config import NodeConfig
from node.privacy.logmask import install_log_masking
from wire.idnumber import mask_text

#: record attributes copied into the JSON object when a log call set them (`extra=`)
CONTEXT_FIELDS = ("tx_id", "request_id", "peer", "block_height")


class JsonFormatter(logging.Formatter):
    """One JSON object a line (see the module rules)."""

    def __init__(self, node_id: str) -> None:
        super().__init__()
        self.node_id = node_id
        self.height: Callable[[], int] | None = None

    def bind(self, *, height: Callable[[], int]) -> None:
        self.height = height

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask_text(record.getMessage()),
            "node_id": self.node_id,
        }
        height = getattr(record, "height", None)
        if height is None and self.height is not None:
            try:
                height = self.height()
            except Exception:  # the node may be half built or gone; the line still goes out
                height = None
        if height is not None:
            doc["height"] = height
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            doc["exc"] = mask_text(record.exc_text or self.formatException(record.exc_info))
        if record.stack_info:
            doc["stack"] = mask_text(record.stack_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self, node_id: str) -> None:
        super().__init__(f"%(asctime)s %(levelname)s {node_id} %(name)s: %(message)s")
        self.height: Callable[[], int] | None = None

    def bind(self, *, height: Callable[[], int]) -> None:
        self.height = height


def configure_logging(cfg: NodeConfig) -> JsonFormatter | TextFormatter:
    """Send the process's log to stderr in the configured format and level; the formatter."""
    install_log_masking()
    formatter: JsonFormatter | TextFormatter = (
        JsonFormatter(cfg.node_id) if cfg.log.format == "json" else TextFormatter(cfg.node_id)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, cfg.log.level, logging.INFO))
    return formatter
