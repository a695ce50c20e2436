"""The one extension mechanism: collectors register themselves with `@collector(...)`.

Built-ins are imported from BUILTIN; outside packages use the entry-point group
"onepane.collectors" and register the same way. A `[[source]]` in onepane.toml names a collector in
`type`; that collector's pydantic settings model validates the entry.

    @collector("prometheus", settings=PromSettings, table="raw_telemetry",
               help="PromQL range queries -> raw_telemetry")
    def collect(settings: PromSettings, ctx: RunContext) -> None:
        with ctx.load() as load:
            load.write(frame)
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable

from pydantic import BaseModel, ValidationError

from metrics.config import Source, first_error
from metrics.errors import ConfigError, OnepaneError

log = logging.getLogger(__name__)

# Modules that register built-in collectors; each is imported only when a command needs collectors.
BUILTIN: tuple[str, ...] = (
    "collectors.billing",
    "collectors.prometheus",
    "collectors.openmetrics",
    "collectors.requests",
    "collectors.evidently",
    "collectors.kpi",
    "collectors.events",
)


@dataclass(frozen=True)
class CollectorSpec:
    name: str
    settings: type[BaseModel]
    table: str
    func: Callable
    help: str = ""


REGISTRY: dict[str, CollectorSpec] = {}


def collector(name: str, *, settings: type[BaseModel], table: str, help: str = ""):
    def deco(func: Callable) -> Callable:
        REGISTRY[name] = CollectorSpec(name, settings, table, func, help or (func.__doc__ or "").strip())
        return func
    return deco


_loaded = False


def load_collectors() -> dict[str, CollectorSpec]:
    """Import built-ins (those present) and entry points once; return the registry."""
    global _loaded
    if not _loaded:
        for module in BUILTIN:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as e:
                if e.name != module:
                    raise
                log.debug("collector module not present module=%s", module)
        for ep in entry_points(group="onepane.collectors"):
            ep.load()
        _loaded = True
    return REGISTRY


def source_settings(src: Source, index: int, path: str | None = None) -> BaseModel:
    """Validate a [[source]] entry with its collector's settings model."""
    reg = load_collectors()
    spec = reg.get(src.type)
    if spec is None:
        raise ConfigError(f"unknown collector type {src.type!r}; known: {', '.join(sorted(reg))}",
                          path=path, key=f"source[{index}].type")
    data = src.model_dump(exclude={"name", "type", "enabled"})
    try:
        return spec.settings.model_validate(data)
    except ValidationError as e:
        err = first_error(e)
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(err["msg"], path=path, key=f"source[{index}].{loc}") from None


def get(name: str) -> CollectorSpec:
    reg = load_collectors()
    if name not in reg:
        raise OnepaneError(f"unknown collector {name!r}; known: {', '.join(sorted(reg))}")
    return reg[name]
