"""deploy/monitoring/: the Prometheus alert rules load (with promtool when Debian's prometheus
package is installed, as .ci/run does; else a YAML schema check), name only metrics the node
exports, and the Grafana dashboard and the compose profile `monitoring` hang together."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from node.metrics import NodeMetrics

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "deploy" / "monitoring"
REQUIRED_ALERTS = {
    "OrgledgerValidatorDown",
    "OrgledgerNoCommit",
    "OrgledgerIndexLag",
    "OrgledgerViewChangeStorm",
}
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
METRIC = re.compile(r"\b(orgledger_[a-z0-9_]+)")


def _rules() -> dict[str, Any]:
    return yaml.safe_load((MON / "alerts.yml").read_text())


def _exported() -> set[str]:
    """Every metric family the node exports (its registry and the privacy metrics)."""
    text = NodeMetrics("n", "validator").render()[0].decode()
    names = set(re.findall(r"^# HELP (\S+)", text, re.M))
    privacy = (ROOT / "node" / "privacy" / "recorder.py").read_text() + (
        ROOT / "node" / "privacy" / "service.py"
    ).read_text()
    names |= set(re.findall(r'"(orgledger_privacy_[a-z_]+)"', privacy))
    # histograms and counters are queried through their series
    return names | {f"{n}_bucket" for n in names} | {f"{n}_total" for n in names}


def test_alert_rules_have_the_required_alerts_and_a_valid_shape() -> None:
    doc = _rules()
    assert isinstance(doc, dict) and set(doc) == {"groups"}
    names = set()
    for group in doc["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"} and isinstance(group["name"], str)
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule
            assert isinstance(rule["alert"], str) and isinstance(rule["expr"], str) and rule["expr"].strip()
            assert "for" not in rule or DURATION.match(rule["for"]), rule
            assert all(isinstance(v, str) for v in rule.get("labels", {}).values())
            assert rule["annotations"]["summary"]
            assert rule["expr"].count("(") == rule["expr"].count(")")
            names.add(rule["alert"])
    assert names >= REQUIRED_ALERTS


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool not installed (Debian package prometheus)"
)
def test_promtool_loads_the_rules_and_the_config(tmp_path: Path) -> None:
    rules = subprocess.run(
        ["promtool", "check", "rules", str(MON / "alerts.yml")], capture_output=True, text=True
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in _rules()['groups'])} rules found" in rules.stdout
    config = tmp_path / "prometheus.yml"
    config.write_text(
        (MON / "prometheus.yml").read_text().replace("/etc/prometheus/alerts.yml", str(MON / "alerts.yml"))
    )
    checked = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_rules_and_dashboard_name_only_exported_metrics() -> None:
    exported = _exported()
    exprs = [r["expr"] for g in _rules()["groups"] for r in g["rules"]]
    dash = json.loads((MON / "grafana" / "dashboards" / "orgledger.json").read_text())
    exprs += [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in METRIC.findall(e)}
    assert used and used <= exported, used - exported
    wanted = {
        "orgledger_index_lag_blocks",
        "orgledger_tx_commit_latency_seconds_bucket",
        "orgledger_consensus_view_changes_total",
        "orgledger_p2p_validators_connected",
        "orgledger_mempool_refused_total",
        "orgledger_alerts_raised_total",
    }
    assert wanted <= used


def test_compose_profile_monitoring_mounts_these_files() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    monitoring = {n: s for n, s in services.items() if "monitoring" in s.get("profiles", [])}
    assert set(monitoring) == {"prometheus", "grafana"}
    for svc in monitoring.values():
        for spec in svc["volumes"]:
            assert (ROOT / spec.split(":")[0]).exists(), spec
    source = yaml.safe_load((MON / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    dash = json.loads((MON / "grafana" / "dashboards" / "orgledger.json").read_text())
    assert {p["datasource"]["uid"] for p in dash["panels"]} == {uid}
