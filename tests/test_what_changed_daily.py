"""What changed with a window of a day: day-to-day noise is not a change, a day-scale change is.

A service scraped hourly whose traffic level is drawn per day (±25 %, steady hour to hour within a
day) must not alarm with a 1-day window: the day against the same day a week earlier differs by
the day-to-day spread, which the hour-to-hour spread does not show. The day its traffic triples
must alarm, with request rate as the likely top item. Expected values come from the generator's
day factors below (worked by hand in the comments), not from the code under test."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from tests.wc_generate import const, write_scrapes

DAY = 86400
START = 1_793_000_000.0 - (1_793_000_000.0 % DAY)       # a UTC midnight
HOURS = 24
# traffic level of each day (× 2 requests/s); day 10 is the change (×3 against a level of ~1)
FACTORS = [1.0, 1.2, 0.85, 1.0, 1.25, 0.8, 1.15, 1.3, 0.75, 1.25, 3.0]
BASE_RATE = 2.0


def day_end(d: int) -> datetime:
    return datetime.fromtimestamp(START + (d + 1) * DAY, timezone.utc)


@pytest.fixture(scope="module")
def daily(tmp_path_factory):
    from metrics.store import Store

    store = Store(tmp_path_factory.mktemp("daily") / "d.duckdb").ensure()
    n = len(FACTORS) * HOURS
    rate = BASE_RATE * np.repeat(FACTORS, HOURS)
    write_scrapes(store, "ledger", START, 3600, rate, const(n, 0.01), const(n, 0.2), const(n, 0.05), seed=3)
    return store


@pytest.mark.parametrize("service", ["ledger", None], ids=["service", "all-services"])
def test_day_to_day_noise_is_not_a_change(daily, service):
    """Day 9 (level 1.25) against day 2 (0.85): +47 %, ~40 σ of the hour-to-hour spread (Poisson at
    7,200 requests an hour: ~1.2 %), so a comparison of hours calls it a shift. The days before
    day 9 that the answer reads (day 2 as the week-earlier reference, days 7 and 8) have levels
    0.85, 1.3, 0.75: standard deviation 0.293, so two quiet days differ by ~√2 × 0.293 = 0.41, and
    the day's 0.40 is within that: no item is likely and request rate is not named at all."""
    from metrics.analysis.wc_stats import LIKELY
    from metrics.analysis.what_changed import what_changed

    items = what_changed(daily, service, day_end(9), timedelta(days=1))
    assert [i for i in items if i["score"] >= LIKELY] == []
    assert not any(i["kind"] == "request_rate" for i in items)


@pytest.mark.parametrize("service", ["ledger", None], ids=["service", "all-services"])
def test_a_day_scale_change_is_named(daily, service):
    """Day 10 (level 3.0) against day 3 (1.0): ×3. The earlier days read are 3, 8, 9 (levels 1.0,
    0.75, 1.25, standard deviation 0.25): the change is 2.0, eight times that spread."""
    from metrics.analysis.wc_stats import LIKELY
    from metrics.analysis.what_changed import what_changed

    items = what_changed(daily, service, day_end(10), timedelta(days=1))
    top = items[0]
    assert (top["layer"], top["kind"], top["subject"]) == ("technical", "request_rate", "ledger")
    assert top["score"] >= LIKELY
    assert top["evidence"]["factor"] == pytest.approx(3.0 / 1.0, rel=0.05)
    # against the same hours a week earlier (day 3), whether from the window's start or the onset
    assert any(x in top["evidence"]["compared"] for x in ("1 week earlier", "7 day(s) earlier"))
