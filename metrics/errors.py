"""Exceptions. Every message says what happened and what to do next; the CLI prints it as one line."""
from __future__ import annotations


class OnepaneError(Exception):
    """Base class. The message says what happened and what to do next."""


class ConfigError(OnepaneError):
    """A bad onepane.toml: `.path` is the file, `.key` the dotted key (e.g. source[2].url)."""

    def __init__(self, message: str, path: str | None = None, key: str | None = None):
        self.path, self.key = path, key
        where = ": ".join(p for p in (path, key) if p)
        super().__init__(f"{where}: {message}" if where else message)


class InputError(OnepaneError):
    """Bad input data: names the file, the line (1-based, header = line 1) and the column."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 column: str | None = None):
        self.file, self.line, self.column = file, line, column
        parts = [str(file) if file else None,
                 f"line {line}" if line is not None else None,
                 f"column {column!r}" if column else None]
        where = ", ".join(p for p in parts if p)
        if len(message) > MESSAGE_MAX:      # a quoted value of megabytes never fills the terminal
            message = message[:MESSAGE_MAX] + f"... ({len(message)} characters)"
        message = " ".join(message.splitlines())     # one line, always
        super().__init__(f"{where}: {message}" if where else message)


MESSAGE_MAX = 600


class SourceError(OnepaneError):
    """A source could not be collected. `.source` names it."""

    def __init__(self, message: str, source: str | None = None):
        self.source = source
        super().__init__(f"source {source}: {message}" if source else message)


class SourceUnavailable(SourceError):
    """A retryable failure (timeout, 5xx, connection refused)."""


class DefinitionError(OnepaneError):
    """A bad metric definition: `.file` and `.metric`."""


class StoreBusy(OnepaneError):
    """Another process holds the DuckDB file for writing (a migration); retry after it."""


class QueryRefused(OnepaneError):
    """User SQL (`onepane sql`) that is not one read-only SELECT over the store, or that failed."""


class DeliveryError(OnepaneError):
    """A digest that some channels refused. `.failures` is a list of (route, channel,
    reason); `.delivered` the lines of what did go out (those were delivered and recorded)."""

    def __init__(self, failures: list[tuple[str, str, str]], delivered: list[str] | None = None):
        self.failures, self.delivered = list(failures), list(delivered or [])
        named = "; ".join(f"{route} {channel}: {reason}" for route, channel, reason in self.failures)
        ok = len([x for x in self.delivered if x.startswith("sent ")])
        super().__init__(" ".join(
            f"delivery failed on {len(self.failures)} channel(s): {named}. {ok} other delivery(ies) "
            "went out and are recorded; the next run with --send retries only the failed channel(s)"
            .splitlines()))
