"""Prometheus collector against a real Prometheus backfilled from the real capture.

Facts come from requests.csv (plain Python in test_telemetry.py); the offline OpenMetrics import
must agree with the Prometheus-collected numbers within 1%. Fault cases use a small real HTTP
server (tests/prom_helpers.ProxyServer) in front of, or instead of, the real Prometheus.
"""
from __future__ import annotations

from decimal import Decimal

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.prom_helpers import ProxyServer, free_port, prometheus_from_openmetrics
from tests.test_telemetry import SERVICE, bucket_bounds, config, request_facts, same_bucket

FROM, TO = 1795527966, 1795528507          # the capture: 13:46:06 - 13:55:07 UTC
T_FROM, T_TO = datetime.fromtimestamp(FROM, timezone.utc), datetime.fromtimestamp(TO, timezone.utc)
FAST = {"timeout_s": 2.0, "retries": 2, "backoff_s": 0.05}
NOW = T_TO + timedelta(minutes=5)          # the collector's clock, pinned just after the capture


@pytest.fixture(scope="module")
def prom(tmp_path_factory, shared):
    with prometheus_from_openmetrics([shared / "gpu-serving-capture" / "telemetry.om"],
                                     tmp_path_factory.mktemp("prom")) as server:
        yield server


@pytest.fixture(scope="module")
def offline(tmp_path_factory, shared):
    from collectors.openmetrics import ingest_openmetrics
    from metrics.store import Store
    from metrics.telemetry import telemetry_summary

    store = Store(tmp_path_factory.mktemp("offline") / "o.duckdb").ensure()
    ingest_openmetrics(store, shared / "gpu-serving-capture" / "telemetry.om")
    return telemetry_summary(store, config(), SERVICE)


def collect(store, url, start=T_FROM, end=T_TO, step="1s", now=NOW, **settings):
    from collectors.prometheus import collect_url

    return collect_url(store, config(), url, service=None, step=step, start=start, end=end, now=now,
                       **settings)


def summary(store, **kw):
    from metrics.telemetry import telemetry_summary

    return telemetry_summary(store, config(), SERVICE, **kw)


def by_version(s):
    return {v["model_version"]: v for v in s["versions"]}


def test_cli_collect_prometheus_matches_request_facts_and_offline_import(prom, offline, run_cli, tmp_path, shared):
    (tmp_path / "onepane.toml").write_text('[pricing]\ngpu_hour = "2.50"\n')
    r = run_cli("collect", "prometheus", "--url", prom.url, "--from", str(FROM), "--to", str(TO),
                "--step", "1s", check=True)
    assert "ok" in r.stdout
    out = run_cli("telemetry", "summary", "--service", SERVICE, "--format", "json", check=True)
    s = json.loads(out.stdout)
    v = by_version(s)
    facts, bounds = request_facts(shared), bucket_bounds(shared)
    assert v["ranker-v41"]["requests"] == facts["ranker-v41"]["requests"] == 4225
    assert v["ranker-v42"]["requests"] == facts["ranker-v42"]["requests"] == 1528
    for name in v:
        assert same_bucket(v[name]["latency_p50_s"], facts[name]["median"], bounds)
    assert v["ranker-v42"]["latency_p50_s"] > v["ranker-v41"]["latency_p50_s"]
    assert v["ranker-v42"]["gpu_seconds_per_request"] > v["ranker-v41"]["gpu_seconds_per_request"]
    assert s["idle_gpu_seconds"] > 0 and float(s["idle_cost"]) == pytest.approx(2.5 * s["idle_gpu_seconds"] / 3600)
    # the offline import of the same capture tells the same story within 1%
    off = by_version(offline)
    for name in ("ranker-v41", "ranker-v42"):
        for key in ("requests", "latency_p50_s", "latency_p95_s", "gpu_seconds",
                    "gpu_seconds_per_request", "energy_j_per_request"):
            assert v[name][key] == pytest.approx(off[name][key], rel=0.01), (name, key)
        assert float(v[name]["cost"]) == pytest.approx(float(off[name]["cost"]), rel=0.01)
    assert s["idle_gpu_seconds"] == pytest.approx(offline["idle_gpu_seconds"], rel=0.01)


def test_rerun_never_duplicates_and_watermark_continues(prom, store):
    mid = datetime.fromtimestamp(FROM + 300, timezone.utc)
    assert collect(store, prom.url, end=mid).ok
    first = by_version(summary(store))
    assert set(first) == {"ranker-v41", "ranker-v42"}
    assert collect(store, prom.url, end=mid).ok               # same range again
    dup = store.query("SELECT count(*) - count(DISTINCT (metric, labels_hash, sampled_at)) d FROM stg_telemetry")
    assert dup["d"][0] == 0
    again = by_version(summary(store))
    assert again.keys() == first.keys()
    for name in first:                    # the same numbers (floats may differ in summation order)
        assert again[name].keys() == first[name].keys()
        for key, want in first[name].items():
            got = again[name][key]
            if isinstance(want, (int, float, Decimal)) and not isinstance(want, bool):
                assert float(got) == pytest.approx(float(want), rel=1e-9), (name, key)
            else:
                assert got == want, (name, key)
    # no --from: continues one step after each query's watermark up to --to
    assert collect(store, prom.url, start=None).ok
    got = by_version(summary(store))
    assert got["ranker-v41"]["requests"] == 4225 and got["ranker-v42"]["requests"] == 1528
    marks = store.query("SELECT watermark FROM _onepane_loads WHERE status = 'ok' ORDER BY finished_at")
    last = json.loads(marks["watermark"][-1])["queries"]
    assert all(datetime.fromisoformat(t) == datetime.fromtimestamp(TO - 1, timezone.utc) for t in last.values())


def test_gap_backfill_is_limited(prom, store):
    mid = datetime.fromtimestamp(FROM + 200, timezone.utc)
    assert collect(store, prom.url, end=mid).ok
    before = store.query("SELECT count(*) n FROM stg_telemetry")["n"][0]
    # two hours after the capture, with a 1h limit the gap is skipped, and logged
    assert collect(store, prom.url, start=None, end=None, backfill_limit="1h",
                   now=T_TO + timedelta(hours=2)).ok
    assert store.query("SELECT count(*) n FROM stg_telemetry")["n"][0] == before
    details = json.loads(store.query("SELECT details FROM _onepane_loads WHERE status = 'ok' "
                                     "ORDER BY finished_at DESC LIMIT 1")["details"][0])
    assert details["gaps_not_backfilled"]
    # a run with an explicit range back-fills it
    assert collect(store, prom.url).ok
    assert by_version(summary(store))["ranker-v42"]["requests"] == 1528


def test_ranges_are_split_and_in_flight_is_bounded(prom, store):
    with ProxyServer(prom.url) as proxy:
        r = collect(store, proxy.url, max_points=100)
        assert r.ok, r.error
    ranges = [r for r in proxy.requests if "start" in r]
    assert ranges and all((int(r["end"]) - int(r["start"])) / 1 + 1 <= 100 for r in ranges)
    queries = {r["query"] for r in ranges}
    assert len(ranges) == len(queries) * 6                   # 541 points -> 6 requests per query
    assert 1 < proxy.max_in_flight <= 5
    v = by_version(summary(store))
    assert v["ranker-v41"]["requests"] == 4225 and v["ranker-v42"]["requests"] == 1528


def _loads(store):
    return store.query("SELECT status, error, rows FROM _onepane_loads WHERE target_table = 'raw_telemetry' "
                       "ORDER BY finished_at")


def test_500s_are_retried_then_fail_without_partial_batch(prom, store):
    assert collect(store, prom.url).ok
    kept = store.query("SELECT count(*) n FROM raw_telemetry")["n"][0]
    # the first requests succeed, later ones keep failing: nothing of that run may appear
    with ProxyServer(prom.url, lambda n, p: ("proxy", None) if n <= 5 else ("500", None)) as proxy:
        r = collect(store, proxy.url, start=T_FROM, end=T_TO, **FAST)
    assert not r.ok and "500" in r.error and proxy.url in r.error
    attempts = [q for q in proxy.requests if "start" in q]
    assert len(attempts) > len({q["query"] for q in attempts})   # retried
    assert store.query("SELECT count(*) n FROM raw_telemetry")["n"][0] == kept
    runs = _loads(store)
    assert runs["status"].to_list() == ["ok", "failed"] and "500" in runs["error"][-1]


def test_timeouts_are_retried_then_fail(prom, store):
    with ProxyServer(prom.url, lambda n, p: ("sleep", 3.0)) as proxy:
        r = collect(store, proxy.url, **{**FAST, "timeout_s": 0.5, "retries": 1})
    assert not r.ok and "timed out" in r.error
    attempts = [q for q in proxy.requests if "start" in q]
    assert len(attempts) > len({q["query"] for q in attempts})   # retried before giving up
    assert store.query("SELECT count(*) n FROM raw_telemetry")["n"][0] == 0
    assert _loads(store)["status"].to_list() == ["failed"]


def test_garbage_answer_is_a_clear_error(store):
    with ProxyServer(None, lambda n, p: ("garbage", None)) as proxy:
        r = collect(store, proxy.url, **FAST)
    assert not r.ok and "not Prometheus API JSON" in r.error


def test_unreachable_url_from_config_fails_in_cli_and_run_log(prom, run_cli, tmp_path):
    port = free_port()                                # nothing listens there
    (tmp_path / "onepane.toml").write_text(f"""
[[source]]
name = "good"
type = "prometheus"
url = "{prom.url}"
step = "1s"

[[source]]
name = "down"
type = "prometheus"
url = "http://127.0.0.1:{port}"
step = "1s"
retries = 1
backoff_s = 0.05
timeout_s = 2
""")
    r = run_cli("collect", "--from", str(FROM), "--to", str(TO))
    assert r.returncode == 1
    assert "good (prometheus):" in r.stdout and "ok" in r.stdout
    assert "down (prometheus): 0 rows, FAILED" in r.stderr
    assert f"cannot reach http://127.0.0.1:{port}: connection refused" in r.stderr
    runs = json.loads(run_cli("sql", "select source, status, error from _onepane_loads order by finished_at",
                              "--format", "json", check=True).stdout)
    status = {x["source"]: x["status"] for x in runs if x["source"] in ("good", "down")}
    assert status == {"good": "ok", "down": "failed"}
    assert "cannot reach" in next(x["error"] for x in runs if x["source"] == "down")
    s = json.loads(run_cli("telemetry", "summary", "--service", SERVICE, "--format", "json", check=True).stdout)
    assert by_version(s)["ranker-v41"]["requests"] == 4225     # what the good source collected stays


def test_bearer_and_basic_auth_come_from_environment_variables(prom, store, monkeypatch):
    import base64

    monkeypatch.setenv("ONEPANE_TEST_PROM_TOKEN", "s3cret-token")
    with ProxyServer(prom.url) as proxy:
        assert collect(store, proxy.url, bearer_token_env="ONEPANE_TEST_PROM_TOKEN").ok
    assert {h.get("Authorization") for h in proxy.headers} == {"Bearer s3cret-token"}
    monkeypatch.setenv("ONEPANE_TEST_PROM_PW", "pw:with:colons")
    with ProxyServer(prom.url) as proxy:
        assert collect(store, proxy.url, basic_user="onepane", basic_password_env="ONEPANE_TEST_PROM_PW").ok
    expected = "Basic " + base64.b64encode(b"onepane:pw:with:colons").decode()
    assert {h.get("Authorization") for h in proxy.headers} == {expected}
    monkeypatch.delenv("ONEPANE_TEST_PROM_TOKEN")
    r = collect(store, prom.url, bearer_token_env="ONEPANE_TEST_PROM_TOKEN")
    assert not r.ok and "ONEPANE_TEST_PROM_TOKEN" in r.error


def test_query_sets_select_job_labels_and_rename_to_canonical_names():
    from collectors.prometheus import PromSettings, queries_of

    s = PromSettings(url="http://127.0.0.1:1", sets=["vllm", "dcgm"], labels={"job": "vllm"},
                     gpu_labels={"job": "dcgm"}, step="30s")
    qs = [q for _, q in queries_of(s)]
    lat = next(q for q in qs if q.metric == "inference_request_duration_seconds_bucket")
    assert lat.expr == 'last_over_time(vllm:e2e_request_latency_seconds_bucket{job="vllm"}[30s])'
    util = next(q for q in qs if q.metric == "DCGM_FI_DEV_GPU_UTIL")
    assert util.expr == 'last_over_time(DCGM_FI_DEV_GPU_UTIL{job="dcgm"}[30s])'
    with pytest.raises(ValueError):
        PromSettings(url="http://x", sets=["nope"])


def _as_openmetrics(text: str, times: list[float]) -> str:
    """A scrape without timestamps, repeated at `times`, as untyped OpenMetrics promtool reads."""
    from collectors.openmetrics import parse

    p = parse(text, "scrape", default_time=0.0)
    esc = lambda v: v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")  # noqa: E731
    lines = []
    for name, labels, value in zip(p.metric, p.labels, p.value):
        if value is None or name.endswith("_created"):
            continue
        lb = ",".join(f'{k}="{esc(v)}"' for k, v in labels.items())
        lines += [f"{name}{{{lb}}} {value} {t}" for t in times]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.mark.parametrize("server,file", [("vllm", "vllm_metrics.txt"), ("triton", "triton_metrics.txt"),
                                         ("torchserve", "torchserve_metrics_api_example.prom")])
def test_default_query_sets_on_real_model_server_scrapes(server, file, shared, tmp_path, store):
    """Real scrapes from SOURCE.md, backfilled into a real Prometheus, pulled by the default set."""
    t0 = 1795000020                    # a multiple of the step: points land on the grid
    om = tmp_path / f"{server}.om"
    om.write_text(_as_openmetrics((shared / "prometheus" / "model-servers" / file).read_text(), [t0, t0 + 60]))
    with prometheus_from_openmetrics([om], tmp_path / "prom") as p:
        from collectors.prometheus import collect_url
        r = collect_url(store, config(), p.url, service="svc", step="60s", sets=[server],
                        start=datetime.fromtimestamp(t0, timezone.utc),
                        end=datetime.fromtimestamp(t0 + 120, timezone.utc))
    assert r.ok, r.error
    got = store.query("SELECT metric, model_version, labels, value FROM stg_telemetry "
                      f"WHERE sampled_at = to_timestamp({t0 + 60})")
    rows = {(m, mv, json.loads(lb).get("kind") or json.loads(lb).get("status")): v for m, mv, lb, v in got.rows()}
    if server == "vllm":        # SOURCE.md: prompt tokens 5, generation tokens 7, model facebook/opt-125m
        assert rows[("inference_tokens_total", "facebook/opt-125m", "prompt")] == 5
        assert rows[("inference_tokens_total", "facebook/opt-125m", "completion")] == 7
        assert ("inference_request_duration_seconds_bucket", "facebook/opt-125m", None) in rows
    elif server == "triton":    # only densenet_onnx served 3 requests, 1,327,965 us in total
        assert rows[("inference_requests_total", "densenet_onnx/1", "200")] == 3
        assert rows[("inference_request_duration_seconds_sum", "densenet_onnx/1", None)] == pytest.approx(1.327965)
    else:
        assert rows[("inference_requests_total", "default", None)] == 3
        assert rows[("inference_request_duration_seconds_sum", "default", None)] == pytest.approx(0.290371129)
    assert set(got["metric"].to_list()) <= {"inference_requests_total", "inference_tokens_total",
                                           "inference_queue_depth", "inference_queue_seconds_total"} | {
        f"inference_request_duration_seconds_{s}" for s in ("bucket", "sum", "count")}


@pytest.mark.parametrize("version", ["ranker-v41", "ranker-v42"])
@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_histogram_quantile_agrees_with_prometheus(prom, version, q):
    """Our interpolation over bucket counts equals Prometheus' own histogram_quantile."""
    from metrics.telemetry import histogram_quantile

    at = TO - 1
    sel = f'inference_request_duration_seconds_bucket{{model_version="{version}"}}'
    theirs = float(prom.query(f"histogram_quantile({q}, {sel})", at=at)["data"]["result"][0]["value"][1])
    buckets = [(float(r["metric"]["le"]), float(r["value"][1])) for r in prom.query(sel, at=at)["data"]["result"]]
    assert histogram_quantile(q, buckets) == pytest.approx(theirs, rel=1e-12)


def test_tls_with_ca_file_or_verification_off(prom, store, tmp_path):
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    with ProxyServer(prom.url, tls=(str(cert), str(key))) as proxy:
        assert proxy.url.startswith("https://")
        bad = collect(store, proxy.url, **FAST)
        assert not bad.ok and "TLS failed" in bad.error and "ca_file" in bad.error
        assert collect(store, proxy.url, ca_file=str(cert)).ok
        assert collect(store, proxy.url, tls_verify=False).ok
    assert by_version(summary(store))["ranker-v41"]["requests"] == 4225


@pytest.mark.parametrize("step", ["15s", "60s"])
def test_coarse_steps_keep_request_counts_exact(prom, store, shared, step):
    """A series that begins inside the first step still counts from zero; counts do not depend on the step."""
    facts = request_facts(shared)
    start = datetime(2026, 11, 24, 13, 46, tzinfo=timezone.utc)          # before the capture's first sample
    assert collect(store, prom.url, start=start, end=datetime(2026, 11, 24, 13, 57, tzinfo=timezone.utc), step=step).ok
    v = by_version(summary(store))
    assert {k: x["requests"] for k, x in v.items()} == {k: f["requests"] for k, f in facts.items()}
    assert v["ranker-v42"]["gpu_seconds_per_request"] > v["ranker-v41"]["gpu_seconds_per_request"]
    assert v["ranker-v42"]["latency_p50_s"] > v["ranker-v41"]["latency_p50_s"]


def test_plain_client_histogram_by_name_on_a_real_prometheus_scrape(shared, tmp_path, store):
    """A real /metrics scrape (Prometheus' own http histogram and request counter, code label): the
    prometheus_client set pointed at those names gives the scrape's totals and Prometheus' quantile."""
    import re

    text = (shared / "prometheus" / "exposition" / "alltypes.237mfs.prom.txt").read_text()
    t0 = 1795000020
    # first scrape at t0 with every request counter at 0 (the server just started), second at t0+60
    first = re.sub(r"^(prometheus_http_request[^ ]*) \S+$", r"\1 0", text, flags=re.M)
    om = tmp_path / "scrape.om"
    body = _as_openmetrics(first, [t0]).replace("# EOF\n", "") + _as_openmetrics(text, [t0 + 60])
    lines = body.splitlines()
    series = {}
    for line in lines:                                 # promtool wants each series' points in time order
        if line != "# EOF":
            series.setdefault(line.rsplit(" ", 2)[0], []).append(line)
    om.write_text("\n".join(x for v in series.values() for x in v) + "\n# EOF\n")
    total = sum(float(m.group(1)) for m in re.finditer(r"^prometheus_http_requests_total\{[^}]*\} (\S+)$", text, re.M))
    errors = sum(float(m.group(2)) for m in re.finditer(
        r'^prometheus_http_requests_total\{code="(\d+)"[^}]*\} (\S+)$', text, re.M) if m.group(1) >= "500")
    with prometheus_from_openmetrics([om], tmp_path / "prom") as p:
        from collectors.prometheus import collect_url
        r = collect_url(store, config(), p.url, service="prom", step="60s", sets=["prometheus_client"],
                        histogram="prometheus_http_request_duration_seconds",
                        requests_counter="prometheus_http_requests_total", model_version="v1",
                        start=datetime.fromtimestamp(t0, timezone.utc),
                        end=datetime.fromtimestamp(t0 + 120, timezone.utc))
        theirs = float(p.query("histogram_quantile(0.5, sum by (le) (prometheus_http_request_duration_seconds_bucket))",
                               at=t0 + 60)["data"]["result"][0]["value"][1])
    assert r.ok, r.error
    v = by_version(summary_of(store, "prom"))["v1"]
    assert total > 0 and v["requests"] == total
    assert v["error_rate"] == pytest.approx(errors / total)
    assert v["latency_p50_s"] == pytest.approx(theirs, rel=1e-9)


def summary_of(store, service):
    from metrics.telemetry import telemetry_summary

    return telemetry_summary(store, config(), service)
