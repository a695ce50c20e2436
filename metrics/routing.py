"""Who hears about what: the one routing rule that `onepane check` alerts and the weekly digest
(`onepane report weekly --send`) share.

- A service's owning team is its `team` in `[[services]]`; a team's channel is its entry in
  `[[teams]]` (`webhook_url_env` / `webhook_url`: a Slack-compatible incoming webhook that gets
  `{"text": ...}`; `mail_to`: mail through the `[alerts]` SMTP settings).
- Whatever a team owns goes to that team's channel when it has one. Company-level subjects (SKU
  anomalies, unallocated cost, services not described in `[[services]]`, teams without a channel)
  go to the company channels of `[alerts]` (Slack webhook, generic JSON webhook, mail).
- The digest also sends the company digest of every service to `[alerts]`; an alert is sent once,
  to its owner's channel only (not copied to the company channel).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from metrics.config import Settings
from metrics.errors import ConfigError


@dataclass(frozen=True)
class TeamChannel:
    team: str
    webhooks: tuple[str, ...]           # Slack-compatible: {"text": ...}
    mail_to: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"team {self.team}"


def env_value(name: str | None, key: str) -> str | None:
    """The value of the environment variable `name` (None when no variable is named); a named but
    unset variable is a ConfigError naming the setting `key`."""
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} (for {key}) is not set", key=key)
    return value


def team_channels(config: Settings) -> dict[str, TeamChannel]:
    """Each `[[teams]]` entry that has a webhook or mail recipients, by team name."""
    out = {}
    for t in config.teams:
        hooks = tuple(u for u in (env_value(t.webhook_url_env, f"teams.{t.name}.webhook_url_env"),
                                  t.webhook_url) if u)
        if hooks or t.mail_to:
            out[t.name] = TeamChannel(t.name, hooks, tuple(t.mail_to))
    return out


def alert_owner(config: Settings, rule: str, subject: str) -> str | None:
    """The team that owns an alert of `rule` about `subject` (as `onepane check` names them), or
    None when it is company-level.

    >>> from metrics.config import parse_settings
    >>> cfg = parse_settings({"services": [{"name": "ranker", "team": "search"}]})
    >>> alert_owner(cfg, "slo_burn", "ranker/error_rate/1h-5m")
    'search'
    >>> alert_owner(cfg, "budget_forecast", "team/risk/2026-11"), alert_owner(cfg, "cost_anomaly", "sku/GPU-hours")
    ('risk', None)
    >>> alert_owner(cfg, "cost_day_over_day", "__unallocated__") is None
    True
    """
    if rule in ("budget_forecast", "cost_anomaly"):
        level, _, rest = subject.partition("/")
        name = rest.split("/")[0] if rule == "budget_forecast" else rest
        if level == "team":
            return name
        return config.team_of(name) if level == "service" else None
    service = subject.split("/")[0] if rule == "slo_burn" else subject
    return config.team_of(service)
