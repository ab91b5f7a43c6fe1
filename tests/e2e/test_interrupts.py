"""Ctrl-C: what a library logs while unwinding from the interrupt is not printed; its other errors are."""
import subprocess
import sys

import pytest

# What SQLAlchemy does when Ctrl-C lands in a query: close the cursor, fail, log that with its traceback
# (to stderr through logging's last-resort handler, as in the CLI, which configures no logging).
SCRIPT = """
import logging, signal, sys
from pipeline import interrupts
interrupts.install()
try:
    try:
        if sys.argv[1] == "interrupted":
            signal.raise_signal(signal.SIGINT)
        raise OSError("the query failed")
    except BaseException:
        raise RuntimeError("Cannot operate on a closed database.")
except RuntimeError:
    logging.getLogger("sqlalchemy.pool.impl.QueuePool").error("Error closing cursor", exc_info=True)
interrupts.check()
"""


@pytest.mark.parametrize("case", ["interrupted", "failed"])
def test_what_the_ctrl_c_caused_is_not_logged_but_other_errors_are(case):
    run = subprocess.run([sys.executable, "-c", SCRIPT, case], capture_output=True, text=True, timeout=60)
    if case == "interrupted":
        assert "Error closing cursor" not in run.stderr and run.returncode != 0  # the request is kept
        assert run.stderr.strip().splitlines()[-1] == "KeyboardInterrupt"
    else:
        assert "Error closing cursor" in run.stderr and "Cannot operate on a closed database" in run.stderr
        assert run.returncode == 0
