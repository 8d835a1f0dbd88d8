"""Where a node's CPU goes, read from outside: the benchmark's per-stage accounting.

Rules: a node exports `orgledger_stage_cpu_seconds_total{stage}` and
`orgledger_gc_cpu_seconds_total` (node/metrics.py); this module reads them from /metrics and turns
two readings and the process's CPU over the same window into CPU µs per committed transaction,
with "other" for what no stage covers and the collector's share, already inside the stages, as
GC. May import httpx and prometheus_client only; used by node/dev/bench.py.
"""

from __future__ import annotations

import httpx

GC = "gc (within)"  # the garbage collector's CPU, part of the stages it ran in


def stage_cpu(text: str) -> dict[str, float]:
    """CPU seconds by stage from a node's /metrics text (`orgledger_stage_cpu_seconds_total`)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "orgledger_stage_cpu_seconds":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    out[sample.labels["stage"]] = sample.value
        elif family.name == "orgledger_gc_cpu_seconds":  # inside the stages: reported beside them
            out[GC] = sum(x.value for x in family.samples if x.name.endswith("_total"))
    return out


def scrape_stages(urls: dict[str, str]) -> dict[str, dict[str, float]]:
    """`stage_cpu` of every node (node id -> its /metrics URL base); {} for a node that does not answer."""
    out: dict[str, dict[str, float]] = {}
    with httpx.Client(timeout=10) as http:
        for node_id, url in urls.items():
            try:
                out[node_id] = stage_cpu(http.get(f"{url}/metrics").text)
            except (httpx.HTTPError, ValueError):
                out[node_id] = {}
    return out


def per_tx_breakdown(
    used_s: float, before: dict[str, float], after: dict[str, float], committed: int
) -> tuple[float, dict[str, float]]:
    """(CPU µs per committed transaction, the same by stage with "other" for the rest; the
    garbage collector's share, already inside the stages and "other", as "gc (within)")."""
    if committed <= 0:
        return 0.0, {}
    stages = {k: max(0.0, after.get(k, 0.0) - before.get(k, 0.0)) for k in after if k != GC}
    stages["other"] = max(0.0, used_s - sum(stages.values()))
    if GC in after:
        stages[GC] = max(0.0, after[GC] - before.get(GC, 0.0))
    per = {k: round(v * 1e6 / committed, 1) for k, v in stages.items()}
    return round(used_s * 1e6 / committed, 1), per
