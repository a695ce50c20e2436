"""LLM vendor bills -> FOCUS rows (placeholder, filled below)."""
from __future__ import annotations

from pathlib import Path


def detect_csv(cols):
    return None


def is_vendor_json(path: Path) -> bool:
    return False


def open_vendor(con, path, fmt):
    raise NotImplementedError
