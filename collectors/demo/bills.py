"""FOCUS CSV bills: a cloud provider's (FOCUS 1.0 columns) and an LLM vendor's (FOCUS 1.2 columns).

Daily line items, one file per billing month. Money is computed exactly with Decimal from the
quantity and unit price as written, so a loader reproduces it digit for digit. Some shared lines
(NAT gateway, a shared bucket) carry no tags: they are the unallocated cost a ledger must spread.
"""
from __future__ import annotations

import csv
import hashlib
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

from collectors.demo.scenario import (CPU_INSTANCE, FRAUD, GPU_INSTANCE, LLM_PRICE_AFTER,
                                      LLM_PRICE_BEFORE, LLM_SKU, SEARCH, SUPPORT,
                                      SUPPORT_SELF_HOSTED_SHARE, World)

FOCUS_10 = ["AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName",
            "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory",
            "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd",
            "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId",
            "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
            "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice",
            "EffectiveCost", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory",
            "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "RegionId",
            "RegionName", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory",
            "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags"]
FOCUS_12_EXTRA = ["BillingAccountType", "SubAccountType", "InvoiceId", "PricingCurrency",
                  "ServiceSubcategory", "SkuMeter"]
ACCOUNT = "111122223333"
REGION = ("us-east-1", "US East (N. Virginia)")


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _month_bounds(t: datetime) -> tuple[datetime, datetime]:
    a = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    b = (a + timedelta(days=32)).replace(day=1)
    return a, b


def _dec(x: float | int | str, places: int = 6) -> Decimal:
    return Decimal(str(x)) if isinstance(x, str) else Decimal(f"{x:.{places}f}")


def _plain(d: Decimal) -> str:
    s = format(d.normalize(), "f")
    return s if s not in ("-0",) else "0"


def _instance_id(name: str) -> str:
    return "i-0" + hashlib.sha1(name.encode()).hexdigest()[:16]


class Bills:
    """Collects line items, then writes one CSV per (provider, month)."""

    def __init__(self, world: World):
        self.w = world
        self.rows: dict[tuple[str, str], list[dict]] = {}
        self.daily_pool_cost: dict[str, dict[int, Decimal]] = {}
        self.sku_cost: dict[tuple[int, str, str], Decimal] = {}    # (day, service, sku) -> cost

    def line(self, provider: str, day: int, *, qty: Decimal, price: str, unit: str,
             description: str, service_name: str, category: str, sku: str, resource: str | None,
             resource_name: str | None, resource_type: str | None, tags: dict | None,
             extra: dict | None = None) -> Decimal:
        w = self.w
        start = w.start + timedelta(days=day)
        bp_start, bp_end = _month_bounds(start)
        cost = qty * Decimal(price)
        row = {
            "BilledCost": _plain(cost), "EffectiveCost": _plain(cost), "ListCost": _plain(cost),
            "ContractedCost": _plain(cost), "BillingCurrency": "USD",
            "BillingPeriodStart": _iso(bp_start), "BillingPeriodEnd": _iso(bp_end),
            "ChargePeriodStart": _iso(start), "ChargePeriodEnd": _iso(start + timedelta(days=1)),
            "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based", "ChargeDescription": description,
            "ConsumedQuantity": _plain(qty), "ConsumedUnit": unit, "PricingQuantity": _plain(qty),
            "PricingUnit": unit, "ListUnitPrice": price, "ContractedUnitPrice": price,
            "PricingCategory": "Standard", "ServiceName": service_name, "ServiceCategory": category,
            "SkuId": sku, "SkuPriceId": f"{sku}.{price}", "ResourceId": resource or "",
            "ResourceName": resource_name or "", "ResourceType": resource_type or "",
            "Tags": json.dumps(tags, sort_keys=True) if tags else "",
        }
        if provider == "aws":
            row.update({"ProviderName": "AWS", "PublisherName": "Amazon Web Services, Inc.",
                        "InvoiceIssuerName": "Amazon Web Services, Inc.", "BillingAccountId": ACCOUNT,
                        "BillingAccountName": "Demo Corp", "SubAccountId": "444455556666",
                        "SubAccountName": "ml-production", "RegionId": REGION[0], "RegionName": REGION[1],
                        "AvailabilityZone": "us-east-1a" if resource_type == "Instance" else ""})
        row.update(extra or {})
        self.rows.setdefault((provider, bp_start.strftime("%Y-%m")), []).append(row)
        svc = (tags or {}).get("service", "")
        key = (day, svc, sku)
        self.sku_cost[key] = self.sku_cost.get(key, Decimal(0)) + cost
        return cost

    def build(self) -> None:
        w, rng = self.w, self.w.rng
        gpu_type, gpu_price = GPU_INSTANCE
        for pool_name, pool in w.pools.items():
            nodes = pool["nodes"]
            tags = {"team": _team(pool["service"]), "service": pool["service"]}
            if pool["model_version"]:
                tags["model_version"] = pool["model_version"]
            per_day = self.daily_pool_cost.setdefault(pool_name, {})
            for day in range(w.days):
                hrs = nodes[day * 24:(day + 1) * 24]
                for i in range(int(hrs.max()) if hrs.size else 0):
                    hours = int((hrs > i).sum())
                    if hours == 0:
                        continue
                    host = f"{pool_name}-gpu-{i + 1}"
                    c = self.line("aws", day, qty=Decimal(hours), price=gpu_price, unit="Hours",
                                  description=f"${gpu_price} per On Demand Linux {gpu_type} Instance Hour",
                                  service_name="Amazon Elastic Compute Cloud", category="Compute",
                                  sku="G5-2XL-USE1-BOX", resource=f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{_instance_id(host)}",
                                  resource_name=host, resource_type="Instance", tags=tags)
                    per_day[day] = per_day.get(day, Decimal(0)) + c
        cpu_type, cpu_price = CPU_INSTANCE
        for day in range(w.days):
            for i in range(3):
                host = f"fraud-cpu-{i + 1}"
                self.line("aws", day, qty=Decimal(24), price=cpu_price, unit="Hours",
                          description=f"${cpu_price} per On Demand Linux {cpu_type} Instance Hour",
                          service_name="Amazon Elastic Compute Cloud", category="Compute",
                          sku="C6I-2XL-USE1-BOX", resource=f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{_instance_id(host)}",
                          resource_name=host, resource_type="Instance",
                          tags={"team": "risk", "service": FRAUD, "model_version": "fraud-v7"})
            # block storage per service (GB-month prorated per day)
            days_in_month = (_month_bounds(w.start + timedelta(days=day))[1]
                             - _month_bounds(w.start + timedelta(days=day))[0]).days
            for svc, gb in ((SEARCH, 2000), (SUPPORT, 1000), (FRAUD, 500)):
                qty = (Decimal(gb) / Decimal(days_in_month)).quantize(Decimal("0.000001"))
                self.line("aws", day, qty=qty, price="0.08", unit="GB-Mo",
                          description="$0.08 per GB-month of General Purpose SSD (gp3) provisioned storage",
                          service_name="Amazon Elastic Block Store", category="Storage",
                          sku="EBS-GP3-USE1", resource=f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-{svc}",
                          resource_name=f"{svc}-data", resource_type="Volume",
                          tags={"team": _team(svc), "service": svc})
            # data transfer out of the search API; one day a misconfigured export spikes it
            gb = 180 * rng.lognormal(0, 0.04)
            if day == w.marks["sku_spike_day"]:
                gb = 3400 * rng.lognormal(0, 0.02)
            self.line("aws", day, qty=_dec(gb, 4), price="0.09", unit="GB",
                      description="$0.09 per GB - first 10 TB / month data transfer out beyond the global free tier",
                      service_name="Amazon Elastic Compute Cloud", category="Networking",
                      sku="DT-OUT-USE1", resource=None, resource_name=None, resource_type=None,
                      tags={"team": "search", "service": SEARCH})
            # shared, untagged: NAT gateways and a shared artifacts bucket
            self.line("aws", day, qty=Decimal(48), price="0.045", unit="Hours",
                      description="$0.045 per NAT Gateway Hour", service_name="Amazon Virtual Private Cloud",
                      category="Networking", sku="NAT-HRS-USE1",
                      resource=f"arn:aws:ec2:us-east-1:{ACCOUNT}:natgateway/nat-shared",
                      resource_name="nat-shared", resource_type="NAT Gateway", tags=None)
            self.line("aws", day, qty=_dec(420 * rng.lognormal(0, 0.04), 4), price="0.045", unit="GB",
                      description="$0.045 per GB Data Processed by NAT Gateways",
                      service_name="Amazon Virtual Private Cloud", category="Networking",
                      sku="NAT-GB-USE1", resource=f"arn:aws:ec2:us-east-1:{ACCOUNT}:natgateway/nat-shared",
                      resource_name="nat-shared", resource_type="NAT Gateway", tags=None)
            qty = (Decimal(12_000) / Decimal(days_in_month)).quantize(Decimal("0.000001"))
            self.line("aws", day, qty=qty, price="0.023", unit="GB-Mo",
                      description="$0.023 per GB - first 50 TB / month of storage used",
                      service_name="Amazon Simple Storage Service", category="Storage",
                      sku="S3-STD-USE1", resource="arn:aws:s3:::demo-corp-shared-artifacts",
                      resource_name="demo-corp-shared-artifacts", resource_type="Bucket", tags=None)
        self._llm_vendor()

    def _llm_vendor(self) -> None:
        w = self.w
        served = (w.requests[SUPPORT]["assistant-v3"] + w.requests[SUPPORT]["assistant-v4"])
        vendor_requests = served * (1 - SUPPORT_SELF_HOSTED_SHARE)
        inp = np.round(vendor_requests * w.prompt_tokens)
        out = np.round(vendor_requests * w.completion_tokens)
        current = _month_bounds(w.start + timedelta(days=w.days - 1))[0]
        for day in range(w.days):
            sl = slice(day * 24, (day + 1) * 24)
            prices = LLM_PRICE_AFTER if day * 24 >= w.marks["price_change"] else LLM_PRICE_BEFORE
            bp_start = _month_bounds(w.start + timedelta(days=day))[0]
            invoice = "" if bp_start == current else f"INV-{bp_start:%Y%m}-0042"
            for kind, tokens in (("input", inp[sl].sum()), ("output", out[sl].sum())):
                self.line("openai", day, qty=Decimal(int(tokens)), price=prices[kind], unit="Tokens",
                          description=f"{LLM_SKU} {kind} tokens", service_name="OpenAI API",
                          category="AI and Machine Learning", sku=LLM_SKU, resource=None,
                          resource_name=None, resource_type=None,
                          tags={"team": "support", "service": SUPPORT},
                          extra={"ProviderName": "OpenAI", "PublisherName": "OpenAI",
                                 "InvoiceIssuerName": "OpenAI", "BillingAccountId": "org-demo-corp",
                                 "BillingAccountName": "Demo Corp", "BillingAccountType": "Organization",
                                 "SubAccountId": "proj_support_assistant", "SubAccountName": "support-assistant",
                                 "SubAccountType": "Project", "InvoiceId": invoice, "PricingCurrency": "USD",
                                 "ServiceSubcategory": "Generative AI", "SkuMeter": f"{kind} tokens",
                                 "SkuPriceId": f"{LLM_SKU}-{kind}"})

    def write(self, folder: Path) -> list[Path]:
        out = []
        for (provider, month), rows in sorted(self.rows.items()):
            cols = FOCUS_10 + (FOCUS_12_EXTRA if provider == "openai" else [])
            d = folder / provider
            d.mkdir(parents=True, exist_ok=True)
            p = d / f"focus-{month}.csv"
            with open(p, "w", newline="", encoding="utf-8") as fh:
                wr = csv.DictWriter(fh, fieldnames=cols, restval="", lineterminator="\n")
                wr.writeheader()
                wr.writerows(rows)
            out.append(p)
        return out


def _team(service: str) -> str:
    return {SEARCH: "search", SUPPORT: "support", FRAUD: "risk"}[service]
