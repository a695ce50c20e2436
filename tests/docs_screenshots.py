"""The README's dashboard screenshots (docs/screenshots/), taken in the real browser from a demo store
with the app's clock pinned, so the same store gives the same pictures:

    onepane demo --no-serve --end 2026-12-02T00:00:00Z --out demo-data
    python -m tests.docs_screenshots demo-data --now 2026-12-02T06:00:00Z

Each shot is a URL (the page's state lives in it), taken at 1280 px and stored as a 128-colour PNG
(a third of the size of the browser's own PNG; text and chart colours stay legible).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from tests.browser_helpers import ROOT, browser, streamlit_server, wait_for_app

OUT = ROOT / "docs" / "screenshots"
# name -> (URL path and query, what must be on the page before the shot, viewport height)
SHOTS = {
    "overview": ("/", "This month (", 1900),
    "service": ("/service?service=support-assistant&from=2026-09-21&to=2026-09-27&window=7",
                "Technical health of support-assistant", 1300),
    "unit_economics": ("/unit_economics?service=search-ranker", "Marginal cost per bp", 1500),
    "pinned_day": ("/?service=search-ranker&window=7&to=2026-11-18", "× ending 2026-11-18", 1000),
}


def small_png(raw: bytes, path: Path, colours: int = 128) -> None:
    """Save a screenshot as a palette PNG (Pillow ships with Streamlit)."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(raw)).convert("RGB")
    img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def take(store: Path, config: Path | None, now: str, out: Path = OUT, shots: dict = SHOTS,
         width: int = 1280) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("ONEPANE_NOW")
    os.environ["ONEPANE_NOW"] = now                     # the server inherits the pinned clock
    saved = []
    try:
        with streamlit_server(store, config, timeout=120) as url, browser() as b:
            page = b.new_page(viewport={"width": width, "height": 1000})
            for name, (path, ready, height) in shots.items():
                page.set_viewport_size({"width": width, "height": height})
                page.goto(url + path)
                wait_for_app(page, timeout_ms=300000)      # the first run computes every cached query
                assert page.get_by_text(ready, exact=False).count(), (name, ready)
                target = out / f"{name}.png"
                small_png(page.screenshot(), target)
                saved.append(target)
    finally:
        if old is None:
            os.environ.pop("ONEPANE_NOW", None)
        else:
            os.environ["ONEPANE_NOW"] = old
    return saved


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("demo", type=Path, help="the demo folder (onepane.duckdb and onepane.toml)")
    p.add_argument("--now", required=True, help="the app's clock (ISO 8601 UTC)")
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args()
    for path in take(a.demo / "onepane.duckdb", a.demo / "onepane.toml", a.now, a.out):
        print(f"{path} {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
