"""Ctrl-C that is never lost.

Python drops a KeyboardInterrupt raised while a finalizer runs ("Exception ignored in ..."), which
happens when SIGINT lands during TensorFlow's garbage collection. The handler also records the
request, and training checks it every epoch: a run stops at the latest at the end of that epoch.
Python would also print that dropped exception's traceback; the request is kept, so it prints nothing.
Libraries that log what they catch while unwinding (SQLAlchemy's "Error closing cursor" when the signal
lands in a storage query) print nothing either: a logged exception caused by the Ctrl-C is not an error.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading

_requested = False


def _handler(signum, frame) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def _unraisable(report) -> None:
    """Python's hook for exceptions it cannot raise (in finalizers): a recorded Ctrl-C is not an error."""
    if not (_requested and report.exc_type is KeyboardInterrupt):
        sys.__unraisablehook__(report)


def _caused_by_ctrl_c(error: BaseException | None) -> bool:
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _not_the_ctrl_c(record: logging.LogRecord) -> bool:
    """Logging filter: drop records of exceptions a recorded Ctrl-C caused (the request is what counts)."""
    return not (_requested and record.exc_info and _caused_by_ctrl_c(record.exc_info[1]))


def install() -> None:
    """Use the recording handler for SIGINT (main thread only, as signal handlers must be), and keep what
    the interrupt causes out of the log handlers a library falls back on."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)
        sys.unraisablehook = _unraisable
        for handler in [logging.lastResort, *logging.getLogger().handlers]:
            if handler is not None and _not_the_ctrl_c not in handler.filters:
                handler.addFilter(_not_the_ctrl_c)


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed and its first exception got lost."""
    if _requested:
        raise KeyboardInterrupt
