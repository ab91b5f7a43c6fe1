"""Ctrl-C that is never lost.

Python drops a KeyboardInterrupt raised while a finalizer runs ("Exception ignored in ..."), which
happens when SIGINT lands during TensorFlow's garbage collection. The handler also records the
request, and training checks it every epoch: a run stops at the latest at the end of that epoch.
Python would also print that dropped exception's traceback; the request is kept, so it prints nothing.
"""
from __future__ import annotations

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


def install() -> None:
    """Use the recording handler for SIGINT (main thread only, as signal handlers must be)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)
        sys.unraisablehook = _unraisable


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed and its first exception got lost."""
    if _requested:
        raise KeyboardInterrupt
