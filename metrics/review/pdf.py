"""The pack as PDF through Debian's headless chromium (`--print-to-pdf`): the same HTML, printed
with the CSS page rules that keep every chart on one page. No network: the HTML is self-contained."""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from metrics.errors import OnepaneError

log = logging.getLogger(__name__)

CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser")


def chromium() -> str:
    """The chromium binary: $ONEPANE_CHROMIUM, else Debian's."""
    for c in (os.environ.get("ONEPANE_CHROMIUM"), *CANDIDATES):
        if c and (Path(c).exists() or shutil.which(c)):
            return c if Path(c).exists() else shutil.which(c)
    raise OnepaneError("chromium not found; install Debian's `chromium` package or set ONEPANE_CHROMIUM")


def html_to_pdf(html_path: str | Path, pdf_path: str | Path, timeout: int = 180) -> Path:
    """Print `html_path` to `pdf_path` (written atomically). Scripts get 15 s of virtual time to draw."""
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = pdf_path.with_name(f".{pdf_path.name}.tmp")
    with tempfile.TemporaryDirectory(prefix="onepane-chromium-") as profile:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
               "--no-pdf-header-footer", "--virtual-time-budget=15000",
               "--run-all-compositor-stages-before-draw", f"--print-to-pdf={tmp}", html_path.as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        raise OnepaneError(f"chromium could not print {html_path.name} to PDF "
                           f"(exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    os.replace(tmp, pdf_path)
    log.info("pdf written path=%s bytes=%d", pdf_path, pdf_path.stat().st_size)
    return pdf_path
