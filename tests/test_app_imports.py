"""The app process never imports evidently (heavy; only collectors need it), and pages stay thin."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import app_helpers as fx

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import os, sys
from streamlit.testing.v1 import AppTest
for page in sorted(os.listdir(os.path.join(sys.argv[1], "app", "pages"))):
    if not page.endswith(".py"):
        continue
    at = AppTest.from_file(os.path.join(sys.argv[1], "app", "main.py"), default_timeout=120)
    at.query_params["service"] = "ranker"
    at.run()
    at.switch_page("pages/" + page).run()
    assert not at.exception, (page, [e.value for e in at.exception])
print("evidently" in sys.modules, sorted(m for m in sys.modules if m.startswith("evidently"))[:3])
"""


def test_running_every_page_never_imports_evidently(tmp_path):
    f = fx.build(tmp_path)
    env = {"ONEPANE_DB": str(f.store.db_path), "ONEPANE_CONFIG": str(f.config_path),
           "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT)], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "False []", out.stdout


def test_importing_the_app_modules_never_imports_evidently():
    code = ("import sys; import app.data, app.components.charts, app.components.filters, "
            "metrics.queries, app.launch; print('evidently' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
