"""Secrets never reach the store, the logs or the screen.

A URL may carry credentials (`http://user:pass@host`, `?token=...`). `strip_url` removes them
before a URL is kept anywhere; `redact` does the same for every URL inside a free text (an error
message quoting the URL, a log line). The run log's writer (metrics.lake.write_record) and the
CLI's log handler pass everything through `redact`, so a collector that forgets still leaks nothing.
Configure secrets by environment variable name instead: `bearer_token_env`, `basic_password_env`.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

SECRET_PARAMS = {"token", "access_token", "api_key", "apikey", "key", "password", "passwd", "pass",
                 "secret", "auth", "authorization", "sig", "signature", "x-amz-signature",
                 "x-amz-credential", "x-amz-security-token", "client_secret"}
MASK = "REDACTED"
# scheme://userinfo@ : userinfo may hold anything but '/', '@' and whitespace
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s'\"<>]+@")
_PARAM = re.compile(r"(?i)([?&](?:" + "|".join(re.escape(p) for p in sorted(SECRET_PARAMS)) +
                    r")=)[^&#\s'\"<>]*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")


def url_credentials(url: str) -> tuple[str | None, str | None]:
    """(user, password) carried in a URL's userinfo, if any."""
    parts = urlsplit(url)
    return (None if parts.username is None else unquote(parts.username),
            None if parts.password is None else unquote(parts.password))


def strip_url(url: str) -> str:
    """The URL without userinfo and without the values of secret-looking query parameters."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:                       # IPv6 literal
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc += f":{parts.port}"
    query = parts.query
    if query:
        query = urlencode([(k, MASK if k.lower() in SECRET_PARAMS else v)
                           for k, v in parse_qsl(query, keep_blank_values=True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact(text, secrets: tuple[str, ...] = ()):
    """`text` with URL credentials, secret query values, Authorization values and the given
    literal secrets masked. Non-strings pass through unchanged."""
    if not isinstance(text, str) or not text:
        return text
    out = _USERINFO.sub(r"\1", text)
    out = _PARAM.sub(r"\1" + MASK, out)
    out = _BEARER.sub(r"\1 " + MASK, out)
    for s in secrets:
        if s and len(s) >= 4:
            out = out.replace(s, MASK)
    return out


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message (installed by the CLI)."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        clean = redact(msg)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if clean != msg:
            record.msg, record.args = clean, None
        return True
