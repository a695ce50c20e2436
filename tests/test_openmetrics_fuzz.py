"""Fuzzing the OpenMetrics / Prometheus text parser (issue 14, section 8), like every other parser
in tests/test_inputs_fuzz.py: the only outcomes are a load or the project's typed error naming the
file (one line, bounded), with nothing written. Seeds: the first lines of the real capture, of the
real vLLM / Triton / TorchServe scrapes and of the exposition-format samples in ../shared/data;
mutations: the generic ones (truncation, spliced bytes, encodings, line endings, gzip, junk tails)
plus tokens of a sample line replaced by hostile values (huge, non-finite, negative counters,
timestamps out of range or in milliseconds)."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from collectors.openmetrics import ingest_openmetrics
from tests.conftest import SHARED
from tests.test_inputs_fuzz import FUZZ, NOW, RUN, _head, _typed_or_ok, mutated

TOKENS = ["1e400", "-1e400", "+Inf", "-Inf", "NaN", "-5", "12345678901234567890.123", "1e12",
          "1795527966876", "-1795527966", "0x1F", "", "{", "}", '"', "le=", "\x00", "9" * 400]


def seeds() -> list[bytes]:
    files = [SHARED / "gpu-serving-capture" / "telemetry.om",
             SHARED / "prometheus" / "model-servers" / "vllm_metrics.txt",
             SHARED / "prometheus" / "model-servers" / "triton_metrics.txt",
             SHARED / "prometheus" / "model-servers" / "torchserve_metrics_api_example.prom",
             SHARED / "prometheus" / "exposition" / "alltypes.5mfs.om.txt"]
    return [_head(p, 40) for p in files]


@st.composite
def hostile_token(draw, base: list[bytes]) -> bytes:
    lines = draw(st.sampled_from(base)).split(b"\n")
    samples = [i for i, line in enumerate(lines) if line and not line.startswith(b"#")]
    if not samples:
        return b"\n".join(lines)
    i = draw(st.sampled_from(samples))
    parts = lines[i].rsplit(b" ", 2)
    j = draw(st.integers(0, len(parts) - 1))
    parts[j] = draw(st.sampled_from(TOKENS)).encode()
    lines[i] = b" ".join(parts)
    return b"\n".join(lines)


def test_openmetrics_mutations_load_or_are_refused(store, tmp_path):
    base = seeds()
    count = lambda: store.query("SELECT count(*) AS n FROM raw_telemetry")["n"][0]  # noqa: E731
    i = [0]

    @FUZZ
    @given(data=st.one_of(mutated(base), hostile_token(base)))
    def run(data):
        i[0] += 1
        p = Path(tmp_path) / f"scrape-{i[0]}.om"
        p.write_bytes(data)
        _typed_or_ok(lambda: ingest_openmetrics(store, p, default_time=NOW.timestamp(), now=NOW), count, p)

    before = RUN["cases"]
    run()
    assert RUN["cases"] > before                 # the property really ran
