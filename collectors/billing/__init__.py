"""Billing collectors: cloud and LLM vendor bills into one FOCUS dataset (`raw_focus` -> `focus`).

    ingest_billing(store, paths, format="auto", config=None, source=None)
    gpu_hour_price(store, config) -> (Decimal | None, currency)

Formats (auto-detected from headers; force with `format=`): focus, aws-cur, azure, gcp, oci,
openai, anthropic. See collectors/billing/ingest.py for the load rules (idempotence, restatement,
partial files) and focus.py for parsing.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from collectors.billing.ingest import FORMATS, ingest_billing, ingest_file  # noqa: F401
from collectors.billing.gpu import gpu_hour_price  # noqa: F401
from collectors.registry import collector


class BillingSettings(BaseModel):
    """`[[source]] type = "billing"`: exports to load (files, folders or globs)."""
    model_config = ConfigDict(extra="forbid")
    paths: list[str] = Field(min_length=1)
    format: Literal["auto", "focus", "aws-cur", "azure", "gcp", "oci", "openai", "anthropic"] = "auto"
    delivery: Literal["auto", "complete", "partial"] = "auto"


@collector("billing", settings=BillingSettings, table="raw_focus",
           help="Cloud and LLM vendor bills (FOCUS, AWS CUR, Azure, GCP, OCI, OpenAI, Anthropic) -> raw_focus")
def collect_billing(settings: BillingSettings, ctx) -> None:
    """Load every export under the configured paths; files already loaded are skipped."""
    from pathlib import Path

    base = Path(ctx.config.path).parent if ctx.config.path else Path(".")
    paths = [p if Path(p).is_absolute() else str(base / p) for p in settings.paths]
    ingest_billing(ctx.store, paths, settings.format, ctx.config, ctx.source, settings.delivery,
                   new_load=ctx.load)
