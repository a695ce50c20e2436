"""`python -m tests.serve_wide run app/main.py --server.address 127.0.0.1 ...`: a real Streamlit
server that listens on loopback (tests never listen elsewhere) but, once healthy, reports
`server.address = 0.0.0.0` - exactly what app/main.py reads - to prove the app's own check."""
import sys
import threading
import time
import urllib.request

from streamlit import config
from streamlit.web.cli import main

WIDENED = "serve_wide: server.address now reads 0.0.0.0"


def _widen() -> None:
    port = sys.argv[sys.argv.index("--server.port") + 1]
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    config.set_option("server.address", "0.0.0.0")
    print(WIDENED, flush=True)              # the test waits for this line before its first visit


if __name__ == "__main__":
    threading.Thread(target=_widen, daemon=True).start()
    main(prog_name="streamlit")
