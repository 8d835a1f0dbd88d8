"""Take the screenshots of docs/console.md from a running, seeded local network (`make run`).

    .venv/bin/python scripts/console_screenshots.py [--dir .devnet] [--out docs/console]

Needs Debian's chromium and chromium-driver, and a CJK font for legible Chinese
(`apt-get install fonts-wqy-microhei`). Signs in as the seeded users a reader would be: the county
auditor, a branch operator, the root auditor (blocks, access log), and checks a proof bundle made
with `orgledger audit prove`. Every view is shown verified (已验证) or the script stops.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from wire.files import load_genesis
from wire.types import SignedTransaction


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path(".devnet"))
    ap.add_argument("--out", type=Path, default=Path("docs/console"))
    args = ap.parse_args()
    genesis = load_genesis(args.dir / "genesis.json")
    node = genesis.nodes[0]
    base = f"http://{node.host}:{node.api_port}"
    keys = args.dir / "keys" / "users"
    args.out.mkdir(parents=True, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)

    def wait(css: str, timeout_s: float = 40) -> None:
        WebDriverWait(d, timeout_s).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))

    def shot(name: str, css: str = "[data-verified='true']") -> None:
        wait(css)
        time.sleep(0.6)
        d.save_screenshot(str(args.out / f"{name}.png"))
        print(f"{args.out}/{name}.png")

    def sign_in(key: str) -> None:
        d.get(base + "/console/")
        d.execute_script("localStorage.setItem('orgledger.lang', 'zh')")
        d.get(base + "/console/")
        wait("#key-file")
        d.find_element(By.ID, "key-file").send_keys(str((keys / key).resolve()))
        d.find_element(By.ID, "signin-key").click()
        wait("#whoami")

    def go(fragment: str) -> None:
        d.execute_script("location.hash = arguments[0]", fragment)

    try:
        d.get(base + "/console/")
        shot("signin", "#key-file")
        sign_in("cn.gs.lz.cg.auditor.key")
        shot("dashboard")
        go("#/alerts")
        wait("#f-colour")
        Select(d.find_element(By.ID, "f-colour")).select_by_value("RED")
        Select(d.find_element(By.ID, "f-rule")).select_by_value("DEC-06")
        d.find_element(By.ID, "f-apply").click()
        wait("tr.alert-row")
        shot("alerts")
        d.find_element(By.CSS_SELECTOR, "a.open-alert").click()
        wait("#alert-title")
        shot("alert")
        d.find_element(By.CSS_SELECTOR, "a.record-ref").click()
        wait("#record-title")
        shot("decision")
        go("#/orgs")
        shot("orgs", "#org-tree li")
        sign_in("cn.gs.lz.cg.b001.operator.key")
        go("#/member")
        wait("#member-history a")
        d.find_element(By.CSS_SELECTOR, "#member-history a").click()
        wait(".history-group")
        for el in d.find_elements(By.CSS_SELECTOR, ".history-group details")[:3]:
            el.click()
        shot("member")
        sign_in("cn.auditor.key")
        go("#/blocks")
        wait("#blocks td.ok-cell")
        time.sleep(4)
        shot("blocks", "#blocks td.ok-cell")
        go("#/accesslog")
        shot("accesslog", "#access-log")
        tx = _a_transaction(args.dir)
        bundle = args.out.parent / "console-example.bundle"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "node.cli",
                "audit",
                "prove",
                "--node",
                base,
                "--tx",
                tx,
                "--out",
                str(bundle),
                "--genesis",
                str(args.dir / "genesis.json"),
                "--key",
                str(keys / "cn.auditor.key"),
            ],
            check=True,
            capture_output=True,
        )
        go("#/bundle")
        wait("#bundle-file")
        d.find_element(By.ID, "bundle-file").send_keys(str(bundle.resolve()))
        shot("bundle")
        bundle.unlink()
        d.find_element(By.ID, "lang").click()
        go("#/dashboard")
        time.sleep(1)
        shot("dashboard-en")
        d.find_element(By.ID, "lang").click()
    finally:
        d.quit()


def _a_transaction(directory: Path) -> str:
    """The id of the first transaction of the first block that has one (read as the root auditor)."""
    for height in range(1, 50):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "node.cli",
                "api",
                "get",
                f"/v1/blocks/{height}",
                "--node",
                _base(directory),
                "--key",
                str(directory / "keys" / "users" / "cn.auditor.key"),
                "--genesis",
                str(directory / "genesis.json"),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        txs = json.loads(out.stdout)["txs"]
        if txs:
            return SignedTransaction.decode(bytes.fromhex(txs[0])).tx_id.hex()
    raise SystemExit("no transaction in the first 50 blocks")


def _base(directory: Path) -> str:
    n = load_genesis(directory / "genesis.json").nodes[0]
    return f"http://{n.host}:{n.api_port}"


if __name__ == "__main__":
    main()
