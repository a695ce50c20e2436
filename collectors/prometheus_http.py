"""The HTTP side of the Prometheus collector: prometheus-api-client sessions (one per thread) with
auth, TLS, urllib3 retries with exponential backoff, the run's time budget, and one typed error
for every way a request can fail (collectors/prometheus.py plans the requests and stores points).
"""
from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING

from metrics.errors import ConfigError, SourceError, SourceUnavailable

if TYPE_CHECKING:
    from collectors.prometheus import PromSettings


class _Client:
    """prometheus-api-client connections (one per thread) with retry/backoff, auth and TLS."""

    def __init__(self, s: PromSettings):
        self.s = s
        self.local = threading.local()
        headers = {}
        if s.bearer_token_env:
            token = os.environ.get(s.bearer_token_env)
            if not token:
                raise ConfigError(f"environment variable {s.bearer_token_env} (bearer_token_env) is not set")
            headers["Authorization"] = f"Bearer {token}"
        self.headers = headers or None
        self.auth = None
        user = os.environ.get(s.basic_user_env) if s.basic_user_env else s.basic_user
        if user is not None or s.basic_password_env:
            pw = os.environ.get(s.basic_password_env or "", None)
            if pw is None:
                raise ConfigError(f"environment variable {s.basic_password_env} (basic_password_env) is not set")
            self.auth = (user or "", pw)
        elif s._url_auth is not None:
            self.auth = s._url_auth

    def conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            import requests
            from prometheus_api_client import PrometheusConnect
            from urllib3.util.retry import Retry

            session = requests.Session()
            session.verify = self.s.ca_file if (self.s.tls_verify and self.s.ca_file) else self.s.tls_verify
            if self.s.client_cert:
                session.cert = (self.s.client_cert, self.s.client_key) if self.s.client_key else self.s.client_cert
            retry = Retry(total=self.s.retries, connect=self.s.retries, read=self.s.retries,
                          status=self.s.retries, backoff_factor=self.s.backoff_s,
                          status_forcelist=(500, 502, 503, 504), allowed_methods=("GET", "POST"),
                          raise_on_status=False)
            c = PrometheusConnect(url=self.s.url, headers=self.headers, retry=retry, auth=self.auth,
                                  session=session, timeout=self.s.timeout_s)
            self.local.c = c
        return c

    def _range(self, expr: str, a: datetime, b: datetime, step: str) -> tuple[list[dict], list[str]]:
        """The request `custom_query_range` sends, through the same session, keeping the answer's
        `warnings` (the library returns only `data.result` and drops them)."""
        from prometheus_api_client import PrometheusApiClientException

        c = self.conn()
        r = c._session.request(
            method="GET", url=f"{c.url}/api/v1/query_range", headers=c.headers, auth=c.auth,
            params={"query": expr, "start": round(a.timestamp()), "end": round(b.timestamp()), "step": step},
            verify=c._session.verify, cert=c._session.cert, timeout=self.s.timeout_s)
        if r.status_code != 200:
            raise PrometheusApiClientException(f"HTTP Status Code {r.status_code} ({r.content!r})")
        body = r.json()
        return body["data"]["result"], [str(w) for w in body.get("warnings") or []]

    def query_range(self, expr: str, a: datetime, b: datetime, step: str) -> tuple[list[dict], list[str]]:
        """(matrix, warnings) of one range query; typed errors for everything else."""
        import requests
        from prometheus_api_client import PrometheusApiClientException

        try:
            return self._range(expr, a, b, step)
        except (requests.exceptions.JSONDecodeError, KeyError, TypeError) as e:   # not the API's JSON
            raise SourceError(f"{self.s.url} returned a body that is not Prometheus API JSON: "
                              f"{type(e).__name__}: {e}") from None
        except PrometheusApiClientException as e:
            msg = str(e)
            if "HTTP Status Code 5" in msg:
                raise SourceUnavailable(f"{self.s.url} answered {msg[:160]} after {self.s.retries} retries") from None
            raise SourceError(f"{self.s.url} rejected query {expr!r}: {msg[:300]}") from None
        except requests.exceptions.SSLError as e:
            raise SourceError(f"{self.s.url}: TLS failed ({_ssl_reason(e)}); set ca_file to the server's "
                              "CA, or tls_verify = false for a test server") from None
        except requests.exceptions.Timeout:
            raise SourceUnavailable(f"{self.s.url} timed out after {self.s.timeout_s:g}s "
                                    f"({self.s.retries} retries)") from None
        except requests.exceptions.RetryError as e:
            raise SourceUnavailable(f"{self.s.url} kept failing after {self.s.retries} retries: {e}") from None
        except requests.exceptions.ConnectionError as e:
            text = str(e).lower()
            reason = ("timed out" if "timed out" in text else "connection refused" if "refused" in text
                      else "host not found" if "name or service" in text or "resolve" in text
                      else "connection failed")
            raise SourceUnavailable(f"cannot reach {self.s.url}: {reason} after {self.s.retries} retries "
                                    f"({type(e).__name__})") from None
        except requests.exceptions.RequestException as e:
            raise SourceUnavailable(f"{self.s.url}: {type(e).__name__}: {e}") from None


def _within(done, deadline: float, s: PromSettings, total: int):
    """`as_completed` with the run's budget: past the deadline the run fails as unavailable (the
    watermark stays, so the next run collects the same range again)."""
    from concurrent.futures import TimeoutError as FuturesTimeout

    n = 0
    try:
        for fut in done:
            n += 1
            yield fut
            if time.monotonic() > deadline and n < total:
                raise FuturesTimeout()
    except FuturesTimeout:
        raise SourceUnavailable(f"{s.url}: gave up after the budget of {s.budget_s:g}s "
                                f"({n} of {total} requests done); the next run collects this "
                                "range again") from None


def _ssl_reason(e: Exception) -> str:
    text = str(e)
    for marker in ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "WRONG_VERSION_NUMBER", "hostname"):
        if marker in text:
            i = text.find(marker)
            return text[i:i + 80].split("'")[0].split(")")[0]
    return type(e).__name__
