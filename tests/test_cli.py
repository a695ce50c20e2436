"""The CLI contract: --db creates and migrates, init is idempotent, no onepane.toml needed,
--format json keeps stdout pure, times and durations parse one way everywhere, lakes never shared."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
import duckdb
import pytest
from click.testing import CliRunner

from app.common import DURATION, TIME
from metrics.store import MIGRATIONS_DIR


def _schema(db) -> tuple[list, list]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        migrations = [r[0] for r in con.execute("SELECT name FROM _onepane_migrations ORDER BY 1").fetchall()]
        objects = sorted(r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall())
    finally:
        con.close()
    return migrations, objects


def test_init_twice_leaves_one_schema(run_cli, tmp_path):
    first = run_cli("init", "--db", "s.duckdb", check=True)
    assert "applied" in first.stdout
    schema1 = _schema(tmp_path / "s.duckdb")
    second = run_cli("init", "--db", "s.duckdb", check=True)
    assert "applied 0 migration" in second.stdout
    schema2 = _schema(tmp_path / "s.duckdb")
    assert schema1 == schema2
    files = sorted(p.name for p in MIGRATIONS_DIR.glob("*.sql"))
    assert schema2[0] == files, "each migration recorded exactly once"
    assert {"focus", "raw_focus", "raw_telemetry", "stg_cost", "_onepane_loads"} <= set(schema2[1])


def test_commands_work_without_config_and_create_the_store(run_cli, tmp_path):
    assert not (tmp_path / "onepane.toml").exists()
    r = run_cli("sql", "SELECT count(*) AS n FROM focus", "--db", "fresh/new.duckdb", "--format", "json",
                check=True)
    assert json.loads(r.stdout) == [{"n": 0}]
    assert (tmp_path / "fresh" / "new.duckdb").exists() and (tmp_path / "fresh" / "new.lake").is_dir()
    r = run_cli("config", "check", check=True)
    assert "defaults" in r.stdout
    r = run_cli("collect", "--db", "fresh/new.duckdb")
    assert r.returncode == 0 and "no sources configured" in r.stderr


def test_default_store_is_onepane_duckdb_in_the_working_directory(run_cli, tmp_path):
    run_cli("init", check=True)
    assert (tmp_path / "onepane.duckdb").exists() and (tmp_path / "onepane.lake").is_dir()


def test_json_output_is_only_json_even_with_logging(run_cli):
    r = run_cli("-vv", "sql", "SELECT 1.5::DECIMAL(38,18) AS cost, 'a' AS s, "
                "TIMESTAMPTZ '2026-11-24 13:50:00+00' AS t", "--db", "j.duckdb", "--format", "json", check=True)
    data = json.loads(r.stdout)          # fails on any stray log line or progress bar
    assert data == [{"cost": "1.500000000000000000", "s": "a", "t": "2026-11-24T13:50:00+00:00"}]
    assert r.stderr.strip(), "-vv logs go to stderr"


@pytest.mark.parametrize("text", ["2026-11-24T13:50:00Z", "2026-11-24T14:50:00+01:00",
                                  "2026-11-24T08:20:00-05:30", "1795528200", "1795528200.0"])
def test_as_of_accepts_iso_with_zone_and_unix_seconds(run_cli, text):
    r = run_cli("sql", "SELECT getvariable('onepane_as_of') AS t", "--as-of", text, "--db", "t.duckdb",
                "--format", "json", check=True)
    expected = datetime(2026, 11, 24, 13, 50, tzinfo=timezone.utc)
    assert expected.timestamp() == 1795528200
    assert datetime.fromisoformat(json.loads(r.stdout)[0]["t"]) == expected


def test_bad_time_is_a_usage_error_naming_the_option(run_cli):
    r = run_cli("sql", "SELECT 1", "--as-of", "yesterday-ish", "--db", "t.duckdb")
    assert r.returncode == 2
    assert "--as-of" in r.stderr and "ISO 8601" in r.stderr


@click.command()
@click.option("--from", "start", type=TIME)
@click.option("--window", type=DURATION)
def _probe(start, window):
    click.echo(json.dumps({"start": start.isoformat() if start else None,
                           "window_s": window.total_seconds() if window else None}))


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("15m", 900), ("2h", 7200), ("7d", 604800),
                                          ("1w", 604800), ("1.5h", 5400)])
def test_durations(text, seconds):
    r = CliRunner().invoke(_probe, ["--window", text])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["window_s"] == seconds


@pytest.mark.parametrize("text", ["5y", "m", "10", "-3d", "1 day"])
def test_bad_durations_are_refused(text):
    r = CliRunner().invoke(_probe, ["--window", text])
    assert r.exit_code == 2 and "not a duration" in r.output


def test_naive_times_are_utc_and_dates_are_midnight():
    r = CliRunner().invoke(_probe, ["--from", "2026-11-24"])
    assert json.loads(r.output)["start"] == "2026-11-24T00:00:00+00:00"


def test_stores_never_share_a_lake(run_cli, tmp_path):
    from metrics.lake import Load
    from metrics.store import Store

    run_cli("init", "--db", "a.duckdb", check=True)
    run_cli("init", "--db", "b.duckdb", check=True)
    assert (tmp_path / "a.lake").is_dir() and (tmp_path / "b.lake").is_dir()
    import polars as pl

    a = Store(tmp_path / "a.duckdb")
    with Load(a, "raw_events", collector="t") as load:
        load.write(pl.DataFrame({"occurred_at": [datetime(2026, 1, 1, tzinfo=timezone.utc)], "kind": ["deploy"]}))
    q = "SELECT count(*) AS n FROM raw_events"
    assert run_cli("sql", q, "--db", "a.duckdb", "--format", "json", check=True).stdout.count('"n": 1') == 1
    assert json.loads(run_cli("sql", q, "--db", "b.duckdb", "--format", "json", check=True).stdout) == [{"n": 0}]
    # `a.db` would derive the same folder name as `a.duckdb`: refused, not shared
    r = run_cli("init", "--db", "a.db")
    assert r.returncode == 1
    assert "a.lake" in r.stderr and "another store" in r.stderr
    assert json.loads(run_cli("sql", q, "--db", "a.duckdb", "--format", "json", check=True).stdout) == [{"n": 1}]


def test_every_command_has_help(run_cli):
    from app.cli import cli

    def walk(group, path):
        for name, cmd in group.commands.items():
            yield path + [name], cmd
            if isinstance(cmd, click.Group):
                yield from walk(cmd, path + [name])

    runner = CliRunner()
    for path, cmd in walk(cli, []):
        r = runner.invoke(cli, path + ["--help"])
        assert r.exit_code == 0 and "Usage:" in r.output, path
        assert (cmd.help or cmd.short_help), f"`onepane {' '.join(path)}` has no help text"


def test_importing_app_modules_never_imports_evidently():
    """The CLI modules import neither evidently nor streamlit; app modules never import evidently."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1] / "app"
    cli_mods = ["app.cli", "app.common", "app.serve"] + [
        f"app.commands.{p.stem}" for p in sorted((root / "commands").glob("*.py")) if p.stem != "__init__"]
    ui_mods = ["app.data"] + [f"app.components.{p.stem}" for p in sorted((root / "components").glob("*.py"))
                              if p.stem != "__init__"]
    for mods, banned in ((cli_mods, ("evidently", "streamlit")), (ui_mods, ("evidently",))):
        code = (f"import importlib, sys; [importlib.import_module(m) for m in {mods!r}]; "
                f"print(sorted(m for m in sys.modules if m.split('.')[0] in {banned!r}))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             cwd=root.parent)
        assert out.stdout.strip() == "[]", (mods, out.stdout[:500])


def test_collect_runs_every_source_even_if_one_is_unknown(run_cli, tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"ts": 1795527966, "kind": "deploy", "service": "a", '
                      '"model_version": "v1", "detail": "rollout"}\n')
    (tmp_path / "onepane.toml").write_text(
        '[[services]]\nname = "a"\n\n'
        '[[source]]\nname = "mystery"\ntype = "no-such-collector"\n\n'
        f'[[source]]\nname = "deploys"\ntype = "events"\npaths = ["{events.name}"]\n')
    proc = run_cli("collect")
    assert proc.returncode == 1
    assert "mystery" in proc.stderr and "no-such-collector" in proc.stderr
    out = run_cli("sql", "SELECT count(*) AS n FROM stg_events", "--format", "json", check=True)
    assert json.loads(out.stdout) == [{"n": 1}]
    log = run_cli("sql", "SELECT source, status FROM _onepane_loads WHERE status = 'failed'",
                  "--format", "json", check=True)
    assert json.loads(log.stdout) == [{"source": "mystery", "status": "failed"}]


def test_source_paths_are_relative_to_the_config_file(run_cli, tmp_path, shared):
    """Every file collector resolves a relative `paths` entry from onepane.toml's folder, not the cwd."""
    cfg_dir = tmp_path / "conf"
    (cfg_dir / "data").mkdir(parents=True)
    (cfg_dir / "data" / "capture.om").write_bytes((shared / "gpu-serving-capture" / "telemetry.om").read_bytes())
    (cfg_dir / "data" / "events.jsonl").write_bytes((shared / "gpu-serving-capture" / "events.jsonl").read_bytes())
    (cfg_dir / "onepane.toml").write_text(
        '[[source]]\nname = "capture"\ntype = "openmetrics"\npaths = ["data/*.om"]\n\n'
        '[[source]]\nname = "deploys"\ntype = "events"\npaths = ["data/events.jsonl"]\n')
    run_cli("collect", "--config", cfg_dir / "onepane.toml", "--db", tmp_path / "s.duckdb", check=True)
    out = run_cli("sql", "SELECT (SELECT count(*) FROM stg_events) AS events, "
                  "(SELECT count(DISTINCT metric) FROM stg_telemetry) > 0 AS telemetry",
                  "--db", tmp_path / "s.duckdb", "--format", "json", check=True)
    expected_events = sum(1 for line in (shared / "gpu-serving-capture" / "events.jsonl").read_text().splitlines() if line.strip())
    assert json.loads(out.stdout) == [{"events": expected_events, "telemetry": True}]
