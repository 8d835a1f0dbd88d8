"""The console (issue 21) in a real browser against a seeded local network, and its verifier
cross-checked with the SDK's.

One network of the default topology (six node processes on free ports, `dev seed`). Chromium from
Debian (`chromium`, `chromium-driver`; `.ci/run` installs them) driven by Selenium; the tests skip,
saying so, only when that browser is not installed. Scenarios: a county auditor signs in with a key
file, filters RED DEC-06 (化整为零), opens the alert and its decision and sees 已验证; a tampered
read-index row shows 未通过验证 (the node cannot back its answer), and so does an answer forged on
its way to the page (a proxy edits the value: only the page's own check can catch that); a branch
user sees its branch and never a sibling's; a token link from `orgledger api token` signs in;
an alert is acknowledged and closed by transactions signed in the page. The page's verifier
(console/src/verify.js, run by node) agrees with client_sdk on real answers, headers and proof
bundles, and refuses the same forged ones.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from client_sdk import VerificationError, check_bundle
from client_sdk.auth import LedgerAuth, RequestSigner
from client_sdk.proofs import TrustAnchor, certified_header
from client_sdk.readproofs import ReadVerifier, org_item, record_item
from node.cli import cli as cli_main
from node.dev import devnet
from node.dev.seed import seed
from tests.integration import sdk_tamper as tamper
from tests.integration.test_sdk import Net, _network
from tests.support.cluster import free_ports
from wire.files import load_genesis, load_signing_key

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "console"
COUNTY = "cn.gs.lz.cg"
B001, B002 = "cn.gs.lz.cg.b001", "cn.gs.lz.cg.b002"
WAIT_S = 40


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    root = tmp_path_factory.mktemp("consolenet")
    directory, ports = _network(root)
    devnet.up(directory, echo=False)
    try:
        lines: list[str] = []
        report = seed(directory, echo=lines.append)
        assert report.ok, "\n".join(lines)
        yield Net(directory, ports, report, lines)
    finally:
        devnet.down(directory, echo=False)


# ------------------------------------------------------------------------------------ the browser
class Page:
    """One headless Chromium tab on a node's console."""

    def __init__(self, driver: Any, base: str, keys: Path) -> None:
        self.d, self.base, self.keys = driver, base, keys

    def wait(self, check: Callable[[Any], Any], timeout_s: float = WAIT_S) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.d, timeout_s).until(check)

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.d.find_elements(By.CSS_SELECTOR, css))

    def open(self, path: str = "/console/") -> None:
        self.d.get(self.base + path)

    def sign_in(self, key: str, base: str | None = None) -> None:
        if base is not None:
            self.base = base
        self.open()
        self.wait(lambda d: self.all("#key-file"))
        self.find("#key-file").send_keys(str(self.keys / key))
        self.find("#signin-key").click()
        self.wait(lambda d: self.all("#whoami"))

    def go(self, fragment: str) -> None:
        self.d.execute_script("location.hash = arguments[0]", fragment)

    def verdict(self) -> tuple[str, str]:
        """('true' | 'false', banner text) of the first verification banner the view shows, or
        ('error', its text). Read in one script: a view that re-renders between finding the
        banner and reading it left a stale element under load."""
        script = """
            const v = document.querySelector('[data-verified]');
            if (v) return [v.getAttribute('data-verified'), v.innerText];
            const e = document.querySelector('.banner.error');
            return e ? ['error', e.innerText] : null;
        """
        found = self.wait(lambda d: d.execute_script(script))
        return str(found[0]), str(found[1])

    def shot(self, path: Path) -> None:
        time.sleep(0.5)  # charts draw
        self.d.save_screenshot(str(path))


@pytest.fixture
def page(browser: Any, net: Net) -> Page:
    browser.delete_all_cookies()
    return Page(browser, net.url(28001), net.directory / "keys" / "users")


# ------------------------------------------------------------------------------------ scenarios
def test_a_county_auditor_filters_red_dec06_opens_the_decision_and_sees_it_verified(page: Page) -> None:
    from selenium.webdriver.support.ui import Select

    page.sign_in(f"{COUNTY}.auditor.key")
    assert COUNTY in page.find("#whoami").text
    page.go("#/alerts")
    page.wait(lambda d: page.all("#f-colour"))
    Select(page.find("#f-colour")).select_by_value("RED")
    Select(page.find("#f-rule")).select_by_value("DEC-06")
    page.find("#f-apply").click()
    page.wait(lambda d: page.all("tr.alert-row"))
    assert page.verdict()[0] == "true"
    rows = page.all("tr.alert-row")
    assert rows and all(r.get_attribute("data-rule") == "DEC-06" for r in rows)
    assert all("红色" in r.text and "化整为零" in r.text for r in rows)
    rows[0].find_element("css selector", "a.open-alert").click()
    page.wait(lambda d: page.all("#alert-title"))
    verified, text = page.verdict()
    assert verified == "true" and "已验证" in text
    assert "DEC-06 化整为零" in page.find("#alert-title").text
    page.all("a.record-ref")[0].click()
    page.wait(lambda d: page.all("#record-title"))
    verified, text = page.verdict()
    assert verified == "true" and "已验证" in text
    assert "decision" in page.find("#record-title").text
    assert page.all("#hash-only")  # an auditor reads hashes, not contents: the hash is what is proven


def test_the_english_switch_and_every_view_renders(page: Page) -> None:
    page.sign_in("cn.auditor.key")  # a root auditor: blocks and the access log too
    for view, marker in [
        ("#/dashboard", "#chart-colour"),
        ("#/orgs", "#org-tree"),
        ("#/member", "#member-history"),
        ("#/blocks", "#blocks td.ok-cell"),
        ("#/bundle", "#dropzone"),
        ("#/accesslog", "#access-log"),
    ]:
        page.go(view)
        page.wait(lambda d, m=marker: page.all(m))
    assert "区块与交易" in page.find("#nav-blocks").text
    page.find("#lang").click()
    page.wait(lambda d: page.find("#nav-blocks").text == "Blocks and transactions")
    page.find("#lang").click()
    page.wait(lambda d: page.find("#nav-blocks").text == "区块与交易")


def test_a_branch_user_never_sees_a_sibling_branch(page: Page, net: Net) -> None:
    with net.client(28001, f"users/{COUNTY}.auditor.key") as county:
        sibling = next(a for a in county.alerts() if a.org_id == B002)
    page.sign_in(f"{B001}.operator.key")
    page.go("#/alerts")
    page.wait(lambda d: page.all("tr.alert-row"))
    assert page.verdict()[0] == "true"
    orgs = {r.find_elements("css selector", "td")[3].text for r in page.all("tr.alert-row")}
    assert orgs == {B001}
    page.go("#/orgs")
    page.wait(lambda d: page.all("#org-tree li"))
    shown = {li.get_attribute("data-org") for li in page.all("#org-tree li")}
    assert shown == {B001}
    page.go(f"#/alert/{sibling.id}")
    verified, text = page.verdict()
    assert verified == "error" and "not_found" in text  # as if it did not exist: no data, no hint


def test_a_tampered_index_row_shows_not_verified(page: Page, net: Net) -> None:
    observer = net.url(28006)
    with net.client(28006, f"users/{COUNTY}.auditor.key") as county:
        red = next(a for a in county.alerts(colour="RED") if a.kind == "DEC-06")
    with tamper.index(net.directory) as db:
        (body,) = db.execute("SELECT body FROM ol_record WHERE state_key = ?", (red.state_key,)).fetchone()
        edited = {**json.loads(body), "reason": "nothing to see here"}
        db.execute(
            "UPDATE ol_record SET body = ? WHERE state_key = ?",
            (json.dumps(edited, sort_keys=True, separators=(",", ":")), red.state_key),
        )
    page.sign_in(f"{COUNTY}.auditor.key", base=observer)
    page.go("#/alerts?colour=RED&type=DEC-06")
    verified, text = page.verdict()
    assert verified == "false" and "未通过验证" in text and "index_inconsistent" in text
    assert "nothing to see here" not in page.find("#main").text


@contextlib.contextmanager
def forging_proxy(
    target: str,
    forge: Callable[[str, dict[str, Any]], None],
    seen: list[tuple[str, str, bytes]] | None = None,
) -> Iterator[str]:
    """An HTTP proxy in front of `target` that lets `forge(path, doc)` edit JSON answers: what a
    compromised node or a man in the middle could serve; it records each request (path, headers as
    text, body) in `seen`. Yields the proxy's base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _pass(self) -> None:
            n = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(n) if n else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            if seen is not None:
                seen.append((self.path, json.dumps(headers).lower(), body))
            resp = httpx.request(self.command, target + self.path, headers=headers, content=body, timeout=30)
            data = resp.content
            if resp.headers.get("content-type", "").startswith("application/json") and self.path.startswith(
                "/v1/"
            ):
                doc = resp.json()
                forge(self.path, doc)
                data = json.dumps(doc).encode()
            self.send_response(resp.status_code)
            for k, v in resp.headers.items():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                    self.send_header(k, v)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _pass

    (port,) = free_ports(1)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def _downgrade(path: str, doc: dict[str, Any]) -> None:
    """A RED alert served as BLUE: the rendering and the value bytes both edited."""
    for item in doc.get("items", []) + ([doc["item"]] if "item" in doc else []):
        if isinstance(item, dict) and item.get("colour") == "RED" and item.get("value"):
            item["colour"] = "BLUE"
            if isinstance(item.get("record"), dict):
                item["record"]["colour"] = "BLUE"
            raw = bytes.fromhex(item["value"])
            item["value"] = raw.replace(b"RED", b"BLU").hex()


def test_an_answer_forged_on_its_way_shows_not_verified(page: Page, net: Net) -> None:
    with forging_proxy(net.url(28001), _downgrade) as proxy:
        page.sign_in(f"{COUNTY}.auditor.key", base=proxy)
        page.go("#/alerts?type=DEC-06")
        verified, text = page.verdict()
        assert verified == "false" and "未通过验证" in text and "does not match its proof" in text
        assert not page.all("tr.alert-row")  # the banner instead of the data


def test_the_key_never_leaves_the_page_and_requests_are_bound_to_the_node(page: Page, net: Net) -> None:
    key_path = net.directory / "keys" / "users" / f"{COUNTY}.auditor.key"
    secret = json.loads(key_path.read_text())["secret"].lower()
    seen: list[tuple[str, str, bytes]] = []
    with forging_proxy(net.url(28001), lambda path, doc: None, seen) as proxy:
        page.sign_in(f"{COUNTY}.auditor.key", base=proxy)
        for view in ("#/alerts?colour=RED", "#/orgs", "#/blocks"):
            page.go(view)
            page.verdict()
    reads = [(p, h) for p, h, _ in seen if p.startswith("/v1/") and p != "/v1/status"]
    assert len(reads) > 5
    assert not any(secret in p.lower() or secret in h or secret.encode() in b.lower() for p, h, b in seen)
    central = load_genesis(net.directory / "genesis.json").nodes[0].node_id
    assert all(f'"x-orgledger-audience": "{central}"' in h and "x-orgledger-signature" in h for _, h in reads)


def test_a_token_link_opens_the_console_signed_in(page: Page, net: Net) -> None:
    url = net.url(28001)
    result = CliRunner().invoke(
        cli_main,
        [
            "api",
            "token",
            "--node",
            url,
            "--key",
            str(net.directory / "keys" / "users" / f"{B001}.operator.key"),
            "--genesis",
            str(net.directory / "genesis.json"),
            "--ttl",
            "600",
        ],
    )
    assert result.exit_code == 0, result.output
    link = next(line.split()[-1] for line in result.output.splitlines() if "/console/#token=" in line)
    assert link.startswith(f"{url}/console/#token=")
    page.d.get(link)
    page.wait(lambda d: page.all("#whoami"))
    assert B001 in page.find("#whoami").text
    assert "token=" not in page.d.current_url  # the token leaves the address bar
    assert page.verdict()[0] == "true"


def test_api_token_refuses_a_key_the_ledger_does_not_know(net: Net, tmp_path: Path) -> None:
    from wire.crypto import SigningKey
    from wire.files import write_key_file

    key = SigningKey.generate()
    path = tmp_path / "stranger.key"
    write_key_file(path, "ed25519", key.seed, key.public)
    result = CliRunner().invoke(
        cli_main,
        [
            "api",
            "token",
            "--node",
            net.url(28001),
            "--key",
            str(path),
            "--genesis",
            str(net.directory / "genesis.json"),
        ],
    )
    assert result.exit_code == 1 and "unknown_key" in result.output


def test_alert_actions_are_signed_in_the_page(page: Page, net: Net) -> None:
    with net.client(28001, f"users/{COUNTY}.operator.key") as county:
        target = next(a for a in county.alerts(status="OPEN") if a.org_id == B001 and a.colour != "RED")
    page.sign_in(f"{COUNTY}.operator.key")
    page.go(f"#/alert/{target.id}")
    page.wait(lambda d: page.all("#ack"))
    page.find("#ack").click()
    page.wait(
        lambda d: (
            page.find("#action-status").text in ("已完成", "Done") or ":" in page.find("#action-status").text
        )
    )
    assert page.find("#action-status").text == "已完成", page.find("#action-status").text
    page.wait(lambda d: page.all("#close-reason") and not page.all("#ack"), 20)
    page.find("#close-reason").send_keys("已核实，材料已补齐")
    page.find("#close").click()
    page.wait(lambda d: page.find("#action-status").text not in ("", "…"))
    assert page.find("#action-status").text == "已完成", page.find("#action-status").text
    deadline = time.monotonic() + 30
    with net.client(28001, f"users/{COUNTY}.operator.key") as county:
        while county.alert(target.id).status != "RESOLVED":
            assert time.monotonic() < deadline, "the alert was not resolved"
            time.sleep(0.5)
        closed = county.alert(target.id)
        assert closed is not None and closed.record is not None
        assert closed.record["history"][-1]["note"] == "已核实，材料已补齐"


# ------------------------------------------------------------------------------------ verifier cross-check
def _node_verdicts(cases: list[dict[str, Any]], genesis_doc: dict[str, Any], tmp: Path) -> dict[str, bool]:
    node = shutil.which("node")
    if node is None or not (CONSOLE / "node_modules").is_dir():
        pytest.skip("node or console/node_modules (make console-deps) is missing: the JS verifier cannot run")
    path = tmp / "cases.json"
    path.write_text(json.dumps({"genesis": genesis_doc, "cases": cases}))
    out = subprocess.run(
        [node, str(CONSOLE / "tools" / "crosscheck.mjs"), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return {r["name"]: r["ok"] for r in json.loads(out.stdout)}


def _py_answer_checked(verifier: ReadVerifier, doc: dict[str, Any]) -> None:
    """client_sdk's check of a proven answer and its items (VerificationError when it fails)."""
    state = verifier.state(doc)
    items = [doc["item"]] if "item" in doc else doc.get("items", [])
    for item in items:
        if "state_key" in item:
            record_item(state, item)
        else:
            org_item(state, item)


def _py_answer(verifier: ReadVerifier, doc: dict[str, Any]) -> bool:
    try:
        _py_answer_checked(verifier, doc)
    except VerificationError:
        return False
    return True


def _flip(hexstr: str, at: int = -1) -> str:
    raw = bytearray(bytes.fromhex(hexstr))
    raw[at] ^= 1
    return raw.hex()


def _forgeries(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Forged variants of a proven answer: each must be refused by both verifiers."""
    out: dict[str, dict[str, Any]] = {}
    items = [doc["item"]] if "item" in doc else doc["items"]
    valued = next((i for i in items if i.get("value")), None)

    def variant(name: str, edit: Callable[[dict[str, Any]], None]) -> None:
        copy = json.loads(json.dumps(doc))
        edit(copy)
        out[name] = copy

    if valued is not None:
        idx = items.index(valued)

        def value(d: dict[str, Any]) -> None:
            it = d["item"] if "item" in d else d["items"][idx]
            it["value"] = _flip(it["value"])

        variant("value", value)
    variant("state_root", lambda d: d["proof"].update(state_root=_flip(d["proof"]["state_root"])))
    variant("proof_node", lambda d: d["proof"]["nodes"].pop(0))
    variant(
        "header",
        lambda d: d["proof"]["anchor"].update(header_bytes=_flip(d["proof"]["anchor"]["header_bytes"], 20)),
    )
    variant(
        "signature",
        lambda d: d["proof"]["anchor"].update(
            certificate_bytes=_flip(d["proof"]["anchor"]["certificate_bytes"])
        ),
    )
    variant("anchor_height", lambda d: d["proof"]["anchor"].update(height=d["proof"]["anchor"]["height"] + 1))
    return out


def test_the_page_verifier_agrees_with_the_sdk_on_real_and_forged_answers(net: Net, tmp_path: Path) -> None:
    genesis = load_genesis(net.directory / "genesis.json")
    verifier = ReadVerifier(genesis)
    keys = net.directory / "keys" / "users"
    answers: dict[str, dict[str, Any]] = {}
    for who, paths in {
        f"{COUNTY}.auditor.key": [
            "/v1/alerts?colour=RED&type=DEC-06",
            "/v1/decisions",
            "/v1/orgs",
            "/v1/archives",
        ],
        f"{B001}.operator.key": ["/v1/alerts", "/v1/archives?limit=5", "/v1/meetings?limit=5"],
    }.items():
        signer = RequestSigner(load_signing_key(keys / who), genesis.chain_id, None)
        with httpx.Client(base_url=net.url(28001), auth=LedgerAuth(signer), timeout=30) as http:
            for p in paths:
                sep = "&" if "?" in p else "?"
                answers[f"{who}:{p}"] = http.get(f"{p}{sep}proof=true").json()
            alert = answers[
                f"{who}:/v1/alerts" if who.startswith(B001) else f"{who}:/v1/alerts?colour=RED&type=DEC-06"
            ]
            one = alert["items"][0]["id"]
            answers[f"{who}:one alert"] = http.get(f"/v1/alerts/{one}?proof=true").json()
            pk = next(
                i["id"]
                for i in answers[f"{who}:/v1/archives" + ("?limit=5" if who.startswith(B001) else "")][
                    "items"
                ]
            )
            answers[f"{who}:history"] = http.get(f"/v1/members/{pk}/history?proof=true").json()
            header = http.get("/v1/blocks/5/header").json()
    cases: list[dict[str, Any]] = []
    expected: dict[str, bool] = {}
    for name, doc in answers.items():
        assert "proof" in doc, (name, doc)
        cases.append({"name": name, "kind": "answer", "doc": doc})
        expected[name] = _py_answer(verifier, doc)
        for forged_name, forged in _forgeries(doc).items():
            n = f"{name} forged:{forged_name}"
            cases.append({"name": n, "kind": "answer", "doc": forged})
            expected[n] = _py_answer(ReadVerifier(genesis), forged)
    anchor = TrustAnchor.from_genesis(genesis)

    def py_header(hb: str, cb: str) -> bool:
        try:
            certified_header(bytes.fromhex(hb), bytes.fromhex(cb), 5, anchor, "block 5")
        except VerificationError:
            return False
        return True

    for name, hb, cb in [
        ("header", header["header_bytes"], header["certificate_bytes"]),
        ("header forged:signature", header["header_bytes"], _flip(header["certificate_bytes"])),
        ("header forged:bytes", _flip(header["header_bytes"], 30), header["certificate_bytes"]),
    ]:
        cases.append(
            {"name": name, "kind": "header", "height": 5, "header_bytes": hb, "certificate_bytes": cb}
        )
        expected[name] = py_header(hb, cb)
    with net.client(28001, "admins/cn.key") as c:  # the root admin may prove any transaction
        tx_id = next(
            o.tx_id for o in net.report.outcomes if o.receipt.get("status") == "ACCEPTED" and o.tx_id
        )
        bundle = c.bundle(tx_id)

    def py_bundle(data: bytes) -> bool:
        try:
            check_bundle(data, genesis=genesis)
        except VerificationError:
            return False
        return True

    forged_bundle = bytearray(bundle)
    forged_bundle[-40] ^= 1
    for name, data in [("bundle", bundle), ("bundle forged", bytes(forged_bundle))]:
        cases.append({"name": name, "kind": "bundle", "bundle": data.hex()})
        expected[name] = py_bundle(data)

    got = _node_verdicts(cases, genesis.to_json(), tmp_path)
    assert got == expected
    real = [n for n in expected if "forged" not in n]
    assert all(expected[n] for n in real), [n for n in real if not expected[n]]
    assert not any(v for n, v in expected.items() if "forged" in n)
    assert len(cases) > 40
