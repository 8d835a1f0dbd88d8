"""The message catalogue (contracts/messages.py, issue 21): a Chinese title for every rule of the
registry, Chinese wording for every reason code the rules pass as a literal, and `orgledger rules
list --lang zh` printing the same catalogue."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from contracts.messages import REASONS_ZH, RULE_TITLES_ZH, catalogue, rule_title
from contracts.rules import registry
from node.cli import cli as cli_main

RULES_DIR = Path(__file__).resolve().parents[3] / "contracts" / "rules"
CJK = re.compile(r"[\u4e00-\u9fff]")


def literal_codes(root: Path) -> dict[str, str]:
    """code -> where, for every string literal passed as the `code` argument of `flag`, `reject`
    or a helper of the rules whose signature has a `code` parameter (`_flag`, `due_flag`, ...)."""
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(root.glob("*.py"))}
    position = {"flag": 2, "reject": 1}
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                names = [a.arg for a in node.args.args]
                if "code" in names and node.name not in position:
                    position[node.name] = names.index("code")
    found: dict[str, str] = {}
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            at = position.get(node.func.id)
            args = list(node.args)
            if at is None or len(args) <= at:
                continue
            arg = args[at]
            values = [arg.value] if isinstance(arg, ast.Constant) else []
            if isinstance(arg, ast.IfExp):  # "a" if x else "b"
                values = [v.value for v in (arg.body, arg.orelse) if isinstance(v, ast.Constant)]
            for v in values:
                if isinstance(v, str):
                    found.setdefault(v, f"{path.name}:{node.lineno}")
    return found


def test_every_rule_of_the_registry_has_a_chinese_title() -> None:
    ids = [r.rule_id for r in registry()]
    assert len(ids) == 76
    missing = [i for i in ids if not CJK.search(RULE_TITLES_ZH.get(i, ""))]
    assert not missing
    assert set(RULE_TITLES_ZH) == set(ids)  # no title of a rule that does not exist


def test_every_literal_reason_code_has_chinese_wording() -> None:
    codes = literal_codes(RULES_DIR)
    assert len(codes) > 80  # the scan finds the rules' codes (it would find none if it broke)
    missing = {c: where for c, where in codes.items() if not CJK.search(REASONS_ZH.get(c, ""))}
    assert not missing


def test_the_scan_sees_a_code_without_wording(tmp_path: Path) -> None:
    (tmp_path / "r.py").write_text(
        "def _flag(rule_id, colour, code, text):\n    return flag(rule_id, colour, code, text)\n"
        "x = _flag('X-01', 'RED', 'brand_new_code', 'why')\n"
        "y = reject('X-01', 'refused_code' if z else 'other_code', 'why')\n",
        encoding="utf-8",
    )
    assert set(literal_codes(tmp_path)) == {"brand_new_code", "refused_code", "other_code"}


def test_the_catalogue_is_zh_only_and_titles_by_language() -> None:
    doc = catalogue("zh")
    assert doc["rules"]["DEC-06"] == "化整为零" and doc["colours"]["RED"].startswith("红色")
    assert rule_title("DEC-06") == "化整为零" and rule_title("DEC-06", "en") is None
    with pytest.raises(ValueError, match="zh only"):
        catalogue("fr")


def test_rules_list_prints_the_catalogue_in_chinese() -> None:
    runner = CliRunner()
    zh = runner.invoke(cli_main, ["rules", "list", "--lang", "zh", "--json"])
    assert zh.exit_code == 0, zh.output
    rows = {r["id"]: r["description"] for r in json.loads(zh.output)}
    assert rows == RULE_TITLES_ZH
    en = runner.invoke(cli_main, ["rules", "list"])
    assert "Splitting a large amount" in en.output and "化整为零" in en.output  # the title's own term
    text = runner.invoke(cli_main, ["rules", "list", "--lang", "zh"])
    assert "DEC-06" in text.output and "先执行后决策" in text.output
    bad = runner.invoke(cli_main, ["rules", "list", "--lang", "fr"])
    assert bad.exit_code == 2 and "fr" in bad.output
