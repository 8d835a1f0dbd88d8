"""The node's log formats: one JSON object a line with its context fields, ID numbers masked."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from node.cli.logs import JsonFormatter, configure_logging
from node.config import NodeConfig
from node.dev.netinit import init_network

ID_NUMBER = "11010519491231002X"


def _record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    logger = logging.getLogger("orgledger.test")
    exc_info = None
    if exc:
        try:
            raise ValueError(f"bad number {ID_NUMBER}")
        except ValueError as err:
            exc_info = (type(err), err, err.__traceback__)
    record = logger.makeRecord(logger.name, logging.WARNING, __file__, 1, msg, args, exc_info, extra=extra)
    return record


def test_json_lines_carry_context_and_mask_id_numbers() -> None:
    fmt = JsonFormatter("county")
    fmt.bind(height=lambda: 42)
    line = fmt.format(_record("person %s refused", ID_NUMBER, exc=True, tx_id="ab" * 32, request_id="r-1"))
    doc = json.loads(line)
    assert doc["node_id"] == "county" and doc["height"] == 42 and doc["level"] == "WARNING"
    assert doc["tx_id"] == "ab" * 32 and doc["request_id"] == "r-1"
    assert ID_NUMBER not in line and "110105" in doc["msg"] and "ValueError" in doc["exc"]
    own = json.loads(fmt.format(_record("block stored", height=7)))
    assert own["height"] == 7 and "tx_id" not in own and "\n" not in fmt.format(_record("a\nb"))


def test_configure_logging_follows_the_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    net = init_network(None, tmp_path / "net").out
    cfg = NodeConfig.load(net / "nodes" / "city" / "node.toml", env={"ORGLEDGER_LOG_FORMAT": "json"})
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(cfg)
        logging.getLogger("orgledger.node").info("hello %s", ID_NUMBER)
        err = capsys.readouterr().err.strip().splitlines()[-1]
        doc = json.loads(err)
        assert doc["node_id"] == "city" and doc["msg"].startswith("hello 110105") and ID_NUMBER not in err
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
