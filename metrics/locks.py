"""Run locks: one exclusive, non-blocking flock per named job and store (`<lake>/_locks/NAME.lock`),
so a cron line and a systemd timer firing together run the job once. A killed run never leaves the
lock held (the kernel drops an flock with its process)."""
from __future__ import annotations

import contextlib
import fcntl

from metrics.errors import StoreBusy
from metrics.store import Store


@contextlib.contextmanager
def run_lock(store: Store, name: str):
    """An exclusive lock named `name` for the store; raises StoreBusy if another run holds it."""
    folder = store.lake / "_locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreBusy(f"another `{name}` run holds {folder / (name + '.lock')}; "
                            "it was not started twice") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
