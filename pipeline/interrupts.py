"""Ctrl-C that is never lost.

Python drops a KeyboardInterrupt raised while a finalizer runs ("Exception ignored in ..."), which
happens when SIGINT lands during TensorFlow's garbage collection. The handler also records the
request, and training checks it every epoch: a run stops at the latest at the end of that epoch.
"""
from __future__ import annotations

import signal
import threading

_requested = False


def _handler(signum, frame) -> None:
    global _requested
    _requested = True
    raise KeyboardInterrupt


def install() -> None:
    """Use the recording handler for SIGINT (main thread only, as signal handlers must be)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed and its first exception got lost."""
    if _requested:
        raise KeyboardInterrupt
