"""The demo company's AI inventory: one [services.governance] entry per service, written into the
demo's onepane.toml. Tiers follow what the services decide: fraud-detector blocks payments (high),
support-assistant answers customers (medium), search-ranker orders a catalogue (low). Nothing here
is evidence: the controls read the demo's data (and the decisions recorded against it).
"""
from __future__ import annotations

import json

from collectors.demo.scenario import FRAUD, SEARCH, SUPPORT

INVENTORY = {
    FRAUD: {
        "tier": "high",
        "intended_use": "Score card transactions and hold likely fraud for manual review",
        "model_class": "gradient-boosted tree classifier",
        "fallback": "rules engine (amount and velocity limits) decides alone",
        "rollback": "redeploy the previous model version from the registry (runbook section 3)",
        "last_review": "2026-10-01",
        "sensitive_attributes": ["customer_region"],
        "links": {"model_card": "https://models.example.com/fraud-detector/card",
                  "runbook": "https://wiki.example.com/risk/fraud-detector/runbook",
                  "data_contracts": ["https://contracts.example.com/transactions-v3"]},
    },
    SUPPORT: {
        "tier": "medium",
        "intended_use": "Draft answers to customer support conversations; humans can take over",
        "model_class": "hosted LLM with retrieval (RAG) plus self-hosted reranker",
        "fallback": "hand the conversation to a human agent",
        "rollback": "switch the serving alias back to the previous assistant version",
        "last_review": "2026-09-15",
        "sensitive_attributes": [],
        "links": {"model_card": "https://models.example.com/support-assistant/card",
                  "runbook": "https://wiki.example.com/support/assistant/runbook",
                  "data_contracts": ["https://contracts.example.com/help-center-articles"]},
    },
    SEARCH: {
        "tier": "low",
        "intended_use": "Rank catalogue search results for shoppers",
        "model_class": "learning-to-rank (gradient-boosted trees)",
        "fallback": "popularity ranking",
        "rollback": "redeploy the previous ranker version",
        "last_review": "2026-08-20",
        "sensitive_attributes": [],
        "links": {"model_card": "https://models.example.com/search-ranker/card",
                  "runbook": "https://wiki.example.com/search/ranker/runbook",
                  "data_contracts": ["https://contracts.example.com/search-events"]},
    },
}


def toml_lines(service: str) -> list[str]:
    """The `[services.governance]` table of one service (after its [[services]] keys)."""
    g = INVENTORY.get(service)
    if not g:
        return []
    s = json.dumps
    links = g["links"]
    return ["[services.governance]", f"tier = {s(g['tier'])}", f"intended_use = {s(g['intended_use'])}",
            f"model_class = {s(g['model_class'])}", f"fallback = {s(g['fallback'])}",
            f"rollback = {s(g['rollback'])}", f"last_review = {g['last_review']}",
            f"sensitive_attributes = {s(g['sensitive_attributes'])}",
            f"links = {{ model_card = {s(links['model_card'])}, runbook = {s(links['runbook'])}, "
            f"data_contracts = {s(links['data_contracts'])} }}", ""]
