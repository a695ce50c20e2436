"""Scrape files of real model servers (vLLM, Triton, TorchServe, TGI) through `ingest openmetrics`,
and the OpenMetrics edge cases a load refuses or records (issue 14, section 5).

Scrapes are the real files of ../shared/data/prometheus/model-servers, or a copy the test mutates
(a later scrape: counters moved by numbers chosen here); expected figures are that arithmetic.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from metrics.errors import InputError

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)


def bump(text: str, name: str, match: str, by: float) -> str:
    """The scrape with every `name{...match...} value` line's value increased by `by`."""
    def one(m):
        return f"{m.group(1)} {float(m.group(2)) + by!r}"
    pat = re.compile(rf"^({re.escape(name)}\{{[^}}]*{re.escape(match)}[^}}]*\}})\s+(\S+)$", re.M)
    out, n = pat.subn(one, text)
    assert n, f"{name} {match} not in the scrape"
    return out


def ingest(store, path, at: datetime, **kw):
    from collectors.openmetrics import ingest_openmetrics

    return ingest_openmetrics(store, path, service="svc", default_time=at.timestamp(), now=NOW, **kw)


def summary(store, service="svc"):
    from metrics.telemetry import telemetry_summary

    return {v["model_version"]: v for v in telemetry_summary(store, None, service)["versions"]}


# ---- one mapping for scrape files and Prometheus ----------------------------------------------
def test_vllm_scrape_file_counts_requests_between_two_scrapes(store, shared, tmp_path):
    real = (shared / "prometheus" / "model-servers" / "vllm_metrics.txt").read_text()
    later = bump(real, "vllm:request_success_total", 'finished_reason="length"', 6)
    later = bump(later, "vllm:e2e_request_latency_seconds_count", "opt-125m", 6)
    later = bump(later, "vllm:e2e_request_latency_seconds_sum", "opt-125m", 3.0)
    later = bump(later, "vllm:generation_tokens_total", "opt-125m", 40)
    (tmp_path / "b.txt").write_text(later)
    first = ingest(store, shared / "prometheus" / "model-servers" / "vllm_metrics.txt", T0)
    assert first["server_series_mapped"] > 0
    ingest(store, tmp_path / "b.txt", T0.replace(minute=1))
    s = summary(store)["facebook/opt-125m"]
    assert s["requests"] == 6 and s["error_rate"] == 0.0
    assert s["latency_mean_s"] == pytest.approx(3.0 / 6)
    assert s["tokens"] == 40
    names = set(store.query("SELECT DISTINCT metric FROM raw_telemetry")["metric"].to_list())
    assert "inference_requests_total" in names and "vllm:request_success_total" not in names
    assert "vllm:gpu_cache_usage_perc" in names           # an unmapped series keeps its name


def test_triton_version_label_is_the_model_version_and_failures_are_errors(store, shared, tmp_path):
    real = (shared / "prometheus" / "model-servers" / "triton_metrics.txt").read_text()
    later = bump(real, "nv_inference_request_success", 'model="densenet_onnx"', 7)
    later = bump(later, "nv_inference_request_failure", 'model="densenet_onnx"', 2)
    later = bump(later, "nv_inference_request_duration_us", 'model="densenet_onnx"', 900_000)
    (tmp_path / "b.txt").write_text(later)
    ingest(store, shared / "prometheus" / "model-servers" / "triton_metrics.txt", T0)
    ingest(store, tmp_path / "b.txt", T0.replace(minute=1))
    got = summary(store)
    s = got["densenet_onnx/1"]                   # model densenet_onnx, version 1
    assert s["requests"] == 9 and s["error_rate"] == pytest.approx(2 / 9)
    assert s["latency_mean_s"] == pytest.approx(0.9 / 7)   # duration over successful requests
    assert "densenet_onnx" not in got            # the model name alone is not a version
    assert got["simple/1"]["requests"] == 0


def test_torchserve_scrape_file(store, shared, tmp_path):
    real = (shared / "prometheus" / "model-servers" / "torchserve_metrics_api_example.prom").read_text()
    later = bump(real, "ts_inference_requests_total", "resnet18", 5)
    later = bump(later, "ts_inference_latency_microseconds", "resnet18", 500_000)
    (tmp_path / "b.prom").write_text(later)
    ingest(store, shared / "prometheus" / "model-servers" / "torchserve_metrics_api_example.prom", T0)
    ingest(store, tmp_path / "b.prom", T0.replace(minute=1))
    s = summary(store)["default"]
    assert s["requests"] == 5 and s["latency_mean_s"] == pytest.approx(0.5 / 5)


def tgi_scrape(success: int, failure: int, le_counts: list[int], total_s: float) -> str:
    bounds = ["0.1", "0.5", "1.0", "+Inf"]
    lines = ["# TYPE tgi_request_success counter", f"tgi_request_success {success}",
             "# TYPE tgi_request_failure counter", f'tgi_request_failure{{err="validation"}} {failure}',
             "# TYPE tgi_request_duration histogram"]
    lines += [f'tgi_request_duration_bucket{{le="{b}"}} {c}' for b, c in zip(bounds, le_counts)]
    lines += [f"tgi_request_duration_sum {total_s}", f"tgi_request_duration_count {le_counts[-1]}",
              "# TYPE tgi_queue_size gauge", "tgi_queue_size 3"]
    return "\n".join(lines) + "\n"


def test_tgi_scrape_without_a_model_label(store, tmp_path):
    """TGI labels no model: its series get `--model-version`, else "default" (TorchServe's name)."""
    (tmp_path / "a.txt").write_text(tgi_scrape(10, 1, [2, 8, 10, 10], 4.0))
    (tmp_path / "b.txt").write_text(tgi_scrape(30, 3, [2, 20, 29, 30], 14.0))
    ingest(store, tmp_path / "a.txt", T0)
    ingest(store, tmp_path / "b.txt", T0.replace(minute=1))
    rows = store.query("SELECT metric, sum(increase) n FROM stg_telemetry_delta WHERE service = 'svc' "
                       "GROUP BY metric").rows()
    inc = dict(rows)
    assert inc["inference_requests_total"] == (30 - 10) + (3 - 1)
    assert inc["inference_request_duration_seconds_sum"] == pytest.approx(10.0)
    assert inc["inference_request_duration_seconds_count"] == 20
    s = summary(store)["default"]
    assert s["requests"] == 22 and s["error_rate"] == pytest.approx(2 / 22)
    (tmp_path / "c.txt").write_text(tgi_scrape(31, 3, [2, 20, 30, 31], 15.0))
    ingest(store, tmp_path / "c.txt", T0.replace(minute=2), model_version="llama-3-8b")
    assert summary(store)["llama-3-8b"]["requests"] == 1


def test_prometheus_query_sets_come_from_the_same_mapping():
    from collectors.prometheus import QUERY_SETS
    from collectors.server_metrics import SERVER_SETS

    for server, entries in SERVER_SETS.items():
        qs = QUERY_SETS[server]
        assert [q.metric for q in qs] == [e.metric for e in entries]
        assert all(e.source in q.expr for q, e in zip(qs, entries))
    triton = next(q for q in QUERY_SETS["triton"] if "nv_inference_request_failure" in q.expr)
    assert '"status", "500"' in triton.expr and '"model", "version"' in triton.expr


# ---- two scrapes, one observation each ---------------------------------------------------------
def test_same_bytes_at_another_time_are_another_observation(store, shared, tmp_path, run_cli):
    f = shared / "prometheus" / "model-servers" / "torchserve_metrics_api_example.prom"
    a = ingest(store, f, T0)
    assert not a["skipped"]
    assert ingest(store, f, T0)["skipped"]                      # the same observation again
    b = ingest(store, f, T0.replace(minute=5))
    assert not b["skipped"] and b["load_id"] != a["load_id"]
    n = store.query("SELECT count(DISTINCT sampled_at) n FROM raw_telemetry")["n"][0]
    assert n == 2
    assert summary(store)["default"]["requests"] == 0           # nothing moved between the two


def test_file_timestamps_make_the_observation(store, tmp_path):
    body = "# TYPE inference_requests_total counter\n"
    (tmp_path / "a.om").write_text(body + f'inference_requests_total{{model_version="v1"}} 5 {T0.timestamp()}\n# EOF\n')
    (tmp_path / "b.om").write_text(body + f'inference_requests_total{{model_version="v1"}} 12 '
                                   f'{T0.timestamp() + 60}\n# EOF\n')
    ingest(store, tmp_path / "a.om", NOW)       # --at does not apply: the file has its own times
    ingest(store, tmp_path / "b.om", NOW)
    assert summary(store)["v1"]["requests"] == 7


# ---- values and times a load refuses or records ------------------------------------------------
@pytest.mark.parametrize("stamp,words", [("12345678901234567890.123", "out of range"),
                                         ("1772445600000", "milliseconds"),      # ms in an OpenMetrics file
                                         ("-5", "out of range"),
                                         ("1e400", "not finite")])
def test_out_of_range_timestamp_names_the_line(store, tmp_path, stamp, words):
    f = tmp_path / "bad.om"
    f.write_text("# TYPE x gauge\nx 1 1772445600\n" f"x 2 {stamp}\n# EOF\n")
    with pytest.raises(InputError) as e:
        ingest(store, f, T0)
    assert e.value.line == 3 and words in str(e.value) and "bad.om" in str(e.value)
    assert store.query("SELECT count(*) n FROM raw_telemetry")["n"][0] == 0


def test_timestamp_more_than_a_year_after_now_is_refused(store, tmp_path):
    f = tmp_path / "future.om"
    late = NOW.timestamp() + 400 * 86400
    f.write_text(f"# TYPE x gauge\nx 1 {late}\n# EOF\n")
    with pytest.raises(InputError) as e:
        ingest(store, f, T0)
    assert e.value.line == 2


def test_cli_prints_one_line_not_a_traceback(tmp_path, run_cli):
    f = tmp_path / "bad.om"
    f.write_text("# TYPE x gauge\nx 2 12345678901234567890.123\n# EOF\n")
    r = run_cli("ingest", "openmetrics", "--db", tmp_path / "s.duckdb", f)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "bad.om, line 2" in r.stderr


def test_negative_counter_is_refused(store, tmp_path):
    f = tmp_path / "neg.om"
    f.write_text("# TYPE req counter\nreq_total 3 1772445600\nreq_total -1 1772445660\n"
                 "# TYPE lat histogram\nlat_sum -2.5 1772445600\n# EOF\n")
    with pytest.raises(InputError) as e:
        ingest(store, f, T0)
    assert e.value.line == 3 and "negative" in str(e.value)
    f.write_text("# TYPE lat histogram\nlat_bucket{le=\"+Inf\"} 1 1772445600\nlat_count 1 1772445600\n"
                 "lat_sum -2.5 1772445600\n# EOF\n")       # a histogram's sum may be negative
    assert ingest(store, f, T0)["rows"] == 3


def test_non_finite_values_are_stored_null_and_counted(store, tmp_path):
    t = T0.timestamp()
    f = tmp_path / "inf.om"
    f.write_text("# TYPE inference_requests_total counter\n"
                 f'inference_requests_total{{model_version="v1"}} 5 {t}\n'
                 f'inference_requests_total{{model_version="v1"}} +Inf {t + 60}\n'
                 f'inference_requests_total{{model_version="v1"}} 1e400 {t + 120}\n'
                 f'inference_requests_total{{model_version="v1"}} 9 {t + 180}\n'
                 "# TYPE inference_queue_depth gauge\n"
                 f'inference_queue_depth{{model_version="v1"}} NaN {t}\n# EOF\n')
    r = ingest(store, f, T0)
    assert r["non_finite_values"] == 3 and "NULL" in r["non_finite_rule"]
    assert store.query("SELECT count(*) n FROM raw_telemetry WHERE value IS NULL")["n"][0] == 3
    assert summary(store)["v1"]["requests"] == 4                # 5 -> 9, the NULLs skipped


def test_duplicate_sample_later_line_wins(store, tmp_path):
    t = T0.timestamp()
    f = tmp_path / "dup.om"
    f.write_text("# TYPE g gauge\n" f'g{{a="1"}} 1 {t}\ng{{a="1"}} 2 {t}\ng{{a="1"}} 2 {t}\ng{{a="2"}} 7 {t}\n# EOF\n')
    r = ingest(store, f, T0)
    assert r["duplicate_samples"] == 2 and r["conflicting_duplicates"] == 1
    assert "later line wins" in r["duplicate_rule"]
    got = store.query("SELECT labels, value FROM raw_telemetry ORDER BY labels").rows()
    assert [v for _, v in got] == [2.0, 7.0]


def test_created_after_the_first_sample_counts_from_zero(store, tmp_path):
    """OpenMetrics `_created`: the counter was created (at 0) then; before the file's first sample
    it is a baseline like any counter, inside the observed span it counts in full."""
    t = T0.timestamp()
    f = tmp_path / "created.om"
    f.write_text("# TYPE req counter\n"
                 f'req_total{{model_version="old"}} 100 {t}\nreq_created{{model_version="old"}} {t - 3600} {t}\n'
                 f'req_total{{model_version="old"}} 104 {t + 60}\n'
                 f'req_total{{model_version="new"}} 3 {t + 60}\nreq_created{{model_version="new"}} {t + 30} {t + 60}\n'
                 "# EOF\n")
    ingest(store, f, T0)
    inc = dict(store.query("SELECT model_version, sum(increase) n FROM stg_telemetry_delta GROUP BY 1").rows())
    assert inc == {"old": 4.0, "new": 3.0}
    bad = tmp_path / "bad_created.om"
    bad.write_text(f"# TYPE req counter\nreq_total 1 {t}\nreq_created 1e15 {t}\n# EOF\n")
    with pytest.raises(InputError) as e:
        ingest(store, bad, T0)
    assert e.value.line == 3


def test_load_details_are_recorded(store, tmp_path):
    t = T0.timestamp()
    f = tmp_path / "d.om"
    f.write_text(f"# TYPE g gauge\ng NaN {t}\n# EOF\n")
    r = ingest(store, f, T0)
    d = json.loads(store.query("SELECT details FROM _onepane_loads WHERE load_id = ?", [r["load_id"]])["details"][0])
    assert d["non_finite_values"] == 1 and "duplicate_rule" in d
