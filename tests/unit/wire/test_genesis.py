"""Genesis: the hash ignores formatting, and inconsistent documents are refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.dev.netinit import init_network
from wire.errors import GenesisError
from wire.files import load_genesis
from wire.genesis import Genesis


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("g") / "net"
    init_network(None, out)
    return json.loads((out / "genesis.json").read_text())


def test_hash_is_independent_of_formatting(doc: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(doc, indent=4))
    b.write_text(json.dumps(dict(reversed(list(doc.items())))))
    assert load_genesis(a).hash == load_genesis(b).hash == Genesis.from_json(doc).hash
    assert Genesis.from_json(Genesis.from_json(doc).to_json()).hash == Genesis.from_json(doc).hash


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format="x"), "format"),
        (lambda d: d["nodes"][1].update(pubkey=d["nodes"][0]["pubkey"]), "public key is used twice"),
        (lambda d: d["orgs"][1].update(level="CITY"), "may not be skipped"),
        (lambda d: d["users"].clear(), "root organisation needs an admin"),
        (lambda d: d["consensus"].update(exec_lag=0), "positive integer"),
        (lambda d: d["nodes"][0].update(role="king"), "validator or observer"),
        (lambda d: d["orgs"][2].update(parent="cn"), "parent must be"),
        (lambda d: d.update(chain_id="bad chain"), "chain id"),
        (lambda d: d["rule_config"].update(ratio=0.5), "malformed"),
    ],
)
def test_inconsistent_genesis_is_refused(doc: dict, edit: object, message: str) -> None:  # type: ignore[type-arg]
    bad = json.loads(json.dumps(doc))
    edit(bad)  # type: ignore[operator]
    with pytest.raises(GenesisError, match=message):
        Genesis.from_json(bad)
