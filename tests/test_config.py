"""onepane.toml: a bad file gives a non-zero exit naming the key and what was expected."""
from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from metrics.config import load_settings, parse_settings
from metrics.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def _check(run_cli, tmp_path, text: str, *args, env=None):
    (tmp_path / "onepane.toml").write_text(text)
    return run_cli("config", "check", *args, env=env)


@pytest.mark.parametrize("text,key,expected", [
    ('[[services]]\nname = "a"\nteem = "x"\n', "services[0].teem", "Extra inputs are not permitted"),
    ('[[services]]\nname = "a"\nkind = "robot"\n', "services[0].kind", "'ranking'"),
    ('[[services]]\nname = "a"\nslo = { latency_p95_s = "fast" }\n', "services[0].slo.latency_p95_s",
     "valid number"),
    ('[[services]]\nname = "a"\nfunnel = { action = "buy", denominator = "view", attribution_window = "1 day" }\n',
     "services[0].funnel.attribution_window", "not a duration"),
    ('[[services]]\nname = "a"\nslo = { freshness = "soon" }\n', "services[0].slo.freshness", "not a duration"),
    ('[alerts]\nday_over_day = "lots"\n', "alerts.day_over_day", "valid number"),
    ('[pricing]\ngpu_hour = "cheap"\n', "pricing.gpu_hour", "decimal"),
    ('[[services]]\nteam = "x"\n', "services[0].name", "Field required"),
    ('[[source]]\nname = "k"\ntype = "kpis"\npathz = ["a.csv"]\n', "source[0].pathz", "Extra inputs"),
    ('[[source]]\nname = "k"\ntype = "kpis"\n', "source[0].paths", "Field required"),
    ('[[source]]\nname = "k"\ntype = "nosuch"\n', "source[0].type", "unknown collector type 'nosuch'"),
    ('[[source]]\nname = "k"\ntype = "kpis"\npaths = ["a"]\n[[source]]\nname = "k"\ntype = "events"\n'
     'paths = ["b"]\n', "source[1].name", "duplicate source name"),
])
def test_broken_file_exits_nonzero_naming_the_key(run_cli, tmp_path, text, key, expected):
    r = _check(run_cli, tmp_path, text)
    assert r.returncode == 1, r.stdout
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("error: onepane.toml: ") and f": {key}: " in line, line
    assert expected.lower() in line.lower(), line
    assert "Traceback" not in r.stderr


def test_invalid_toml_names_the_line(run_cli, tmp_path):
    r = _check(run_cli, tmp_path, '[[services]]\nname = "a"\nteam = \n')
    assert r.returncode == 1
    assert "not valid TOML" in r.stderr and "line 3" in r.stderr


def test_missing_explicit_file_is_an_error(run_cli, tmp_path):
    r = run_cli("config", "check", "--config", "nope.toml")
    assert r.returncode == 1 and "nope.toml: file not found" in r.stderr


def test_config_found_in_cwd_and_via_env(run_cli, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.toml").write_text('[[services]]\nname = "a"\nteam = "t"\n')
    r = run_cli("config", "check", env={"ONEPANE_CONFIG": str(tmp_path / "elsewhere" / "x.toml")})
    assert r.returncode == 0 and "1 services" in r.stdout
    (tmp_path / "onepane.toml").write_text('[[services]]\nname = "a"\n[[services]]\nname = "b"\n')
    r = run_cli("config", "check")
    assert r.returncode == 0 and "2 services" in r.stdout


def test_store_path_is_relative_to_the_config_file(tmp_path):
    p = tmp_path / "conf" / "onepane.toml"
    p.parent.mkdir()
    p.write_text('[store]\npath = "data/x.duckdb"\n')
    assert Path(load_settings(p).store.path) == tmp_path / "conf" / "data" / "x.duckdb"


def test_money_in_config_is_exact():
    s = parse_settings({"pricing": {"gpu_hour": "1.212"}, "services": [
        {"name": "a", "budget": {"monthly": "1000.10"}}]})
    assert s.pricing.gpu_hour == Decimal("1.212")
    assert s.services[0].budget.monthly == Decimal("1000.10")


def test_secrets_are_named_not_stored():
    with pytest.raises(ConfigError) as e:
        parse_settings({"alerts": {"slack_webhook": "https://hooks.example/x"}})
    assert e.value.key == "alerts.slack_webhook"


def test_example_config_is_valid_and_documents_every_top_level_section():
    """The shipped onepane.example.toml parses, and its sources validate against every collector
    that is installed (a collector not yet installed is named by `config check`)."""
    from collectors.registry import load_collectors, source_settings
    from metrics.config import Settings

    path = ROOT / "onepane.example.toml"
    s = load_settings(path)
    assert [x.name for x in s.services] == ["search-ranker", "support-assistant"]
    known = load_collectors()
    checked = 0
    for i, src in enumerate(s.source):
        if src.type in known:
            source_settings(src, i, str(path))
            checked += 1
    assert checked >= 3
    data = tomllib.loads(path.read_text())
    documented = set(data) | {"auth"}                # [auth] is shown commented out: it enables login
    assert set(Settings.model_fields) - {"path"} <= documented
