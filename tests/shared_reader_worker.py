"""A process reading a store as the app does (`Store(db, shared=True)`), driven over stdin/stdout
by tests/test_store_shared.py: one JSON line in (`[command, argument]`), one JSON line out.

    ["query", sql]   run sql -> {"rows": [...]} or {"error": "..."}
    ["busy", sql]    run sql every 50 ms in a thread, as a page being rendered -> {}
    ["stop", ""]     stop that thread -> {"queries": n, "errors": [...]}

    python -m tests.shared_reader_worker DB
"""
from __future__ import annotations

import json
import sys
import threading
import time

from metrics.store import Store


def main(db: str) -> None:
    store = Store(db, shared=True)
    stop = threading.Event()
    busy = {"queries": 0, "errors": []}
    thread = None

    def loop(sql: str) -> None:
        while not stop.is_set():       # time.sleep: a timed Event.wait never wakes under faketime (CI)
            time.sleep(0.05)
            try:
                store.rows(sql)
                busy["queries"] += 1
            except Exception as e:     # noqa: BLE001 - every error is reported to the test
                busy["errors"].append(repr(e)[:300])

    for line in sys.stdin:
        cmd, arg = json.loads(line)
        if cmd == "query":
            try:
                out = {"rows": store.rows(arg)}
            except Exception as e:     # noqa: BLE001 - the test reads the error
                out = {"error": repr(e)[:300]}
        elif cmd == "busy":
            thread = threading.Thread(target=loop, args=(arg,), daemon=True)
            thread.start()
            out = {}
        else:                          # stop
            stop.set()
            thread.join()
            out = busy
        print(json.dumps(out, default=str), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
