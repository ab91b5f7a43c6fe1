"""Sync stage: replay the trial logging that waited out a tracking outage in runs/outbox/ (also done
at the start of every tune); a replay never logs a run twice, so it can be run again at any time."""
from __future__ import annotations

from pipeline.errors import UsageError
from pipeline.settings import JobSettings
from tracking.tracker import mask_credentials
from tracking.outbox import replay


def sync(settings: JobSettings) -> str:
    """Replay every pending journal whose trial has ended; one line saying what was done."""
    tracker = settings.tracker()
    try:
        replayed, left = replay(tracker, tracker.outbox)
    except OSError as exc:  # the outbox cannot be written
        raise UsageError(str(exc)) from None
    except Exception as exc:  # the server went away again: the journals stay for the next sync
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UsageError(f"MLflow stopped answering during the replay ({reason}); nothing is lost, "
                         f"run `lstm-tune sync` again") from None
    busy = f"; {left} still being written by running trials" if left else ""
    return (f"replayed {replayed} journal(s) (a trial's logging, or a run's end) from {tracker.outbox} to "
            f"{mask_credentials(tracker.uri)}{busy}")
