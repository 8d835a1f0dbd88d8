"""The console's routes (node/console/, issue 21): the page and its assets come from the node with
a Content-Security-Policy that allows this origin only, the catalogue and the genesis it verifies
against are served, nothing in the page refers to another origin, and the committed build is the
build of console/src (skips, saying why, where node or the pinned front-end packages are missing)."""

from __future__ import annotations

import filecmp
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contracts.messages import catalogue
from contracts.testing import make_genesis
from node.api.app import create_app
from node.console import CSP, STATIC, build_router

ROOT = Path(__file__).resolve().parents[3]
CONSOLE = ROOT / "console"


@pytest.fixture
def client() -> TestClient:
    genesis = make_genesis()
    return TestClient(create_app([build_router(genesis)], height=lambda: 7))


def test_the_page_and_its_assets_are_served_with_a_same_origin_policy(client: TestClient) -> None:
    resp = client.get("/console/")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert resp.headers["content-security-policy"] == CSP
    assert "default-src 'none'" in CSP and "connect-src 'self'" in CSP and "http" not in CSP
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert 'src="/console/assets/app.js"' in resp.text
    for name, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        asset = client.get(f"/console/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert asset.headers["content-security-policy"] == CSP
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/"


def test_an_unknown_asset_is_a_coded_404_and_no_path_escapes(client: TestClient) -> None:
    for name in ("nope.js", "..%2F..%2Fconsole%2F__init__.py", "index.html"):
        resp = client.get(f"/console/assets/{name}")
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"


def test_the_catalogue_and_the_genesis_are_served(client: TestClient) -> None:
    assert client.get("/console/messages.json").json() == catalogue("zh")
    assert client.get("/console/genesis.json").json() == make_genesis().to_json()


def test_nothing_in_the_page_comes_from_another_origin() -> None:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(r.startswith("/console/") for r in refs)
    css = (STATIC / "app.css").read_text(encoding="utf-8")
    assert "url(" not in css and "@import" not in css
    js = (STATIC / "app.js").read_text(encoding="utf-8")
    # no script, style or font loaded from elsewhere (URLs in licence comments and docs strings aside)
    assert not re.search(r"""(?:import\(|fetch\(|src\s*=)\s*["'`]https?://""", js)


def test_the_committed_build_is_the_build_of_the_sources(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not (CONSOLE / "node_modules" / "esbuild").is_dir():
        pytest.skip(
            "node or console/node_modules is missing (make console-deps installs the pinned packages)"
        )
    subprocess.run([node, str(CONSOLE / "build.mjs"), str(tmp_path)], check=True, cwd=CONSOLE)
    stale = [
        n
        for n in ("app.js", "app.css", "index.html")
        if not filecmp.cmp(tmp_path / n, STATIC / n, shallow=False)
    ]
    assert not stale, f"node/console/static/{stale} is stale: run `make console` and commit the result"


def test_the_page_verifier_unit_tests_pass() -> None:
    node = shutil.which("node")
    if node is None or not (CONSOLE / "node_modules" / "@noble").is_dir():
        pytest.skip(
            "node or console/node_modules is missing (make console-deps installs the pinned packages)"
        )
    out = subprocess.run([node, "--test", "test/"], cwd=CONSOLE, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dev_console_prints_each_nodes_console_and_how_to_sign_in(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from node.cli import cli

    genesis = make_genesis()
    (tmp_path / "genesis.json").write_text(genesis.dumps(), encoding="utf-8")
    out = CliRunner().invoke(cli, ["dev", "console", "--dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    for n in genesis.nodes:
        assert f"http://{n.host}:{n.api_port}/console/" in out.output
    assert "cn.gs.lz.cg.auditor.key" in out.output and "api token --node" in out.output
    missing = CliRunner().invoke(cli, ["dev", "console", "--dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "make run" in missing.output
