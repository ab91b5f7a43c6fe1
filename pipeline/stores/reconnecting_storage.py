"""Optuna's RDB storage, surviving a dropped database connection (a restart, a failover,
`pg_terminate_backend`): SQLAlchemy's `pool_pre_ping` replaces connections that died while idle in the
pool; a call whose connection died under it is tried again (backoff 0.5, 1, 2, 4 s) on a fresh one, so
a worker's `tell` or heartbeat outlives the hiccup instead of failing the worker."""
from __future__ import annotations

import functools
import time

from optuna.exceptions import StorageInternalError, UpdateFinishedTrialError
from optuna.storages import RDBStorage
from sqlalchemy.exc import DBAPIError

ATTEMPTS = 5
# The private calls Optuna's cache (the storage a study really uses) makes on its RDB storage.
CACHE_CALLS = {"_create_new_trial", "_get_best_trial_id", "_get_stale_trial_ids", "_get_trials", "_set_trial_param"}
NOT_RETRIED = {"remove_session", "upgrade", "get_current_version", "get_head_version", "get_all_versions"}


def connection_lost(exc: BaseException | None) -> bool:
    """True when a storage call failed because its database connection died (not for bad data)."""
    while exc is not None:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _retried(name: str, method):
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        for attempt in range(ATTEMPTS):
            try:
                return method(self, *args, **kwargs)
            except (StorageInternalError, DBAPIError) as exc:
                if attempt == ATTEMPTS - 1 or not connection_lost(exc):
                    raise
                self.scoped_session.remove()  # the next try starts a new session on a new connection
                time.sleep(0.5 * 2 ** attempt)
            except UpdateFinishedTrialError:
                # A state change committed just before its connection died: the retry finds it made.
                if attempt and name == "set_trial_state_values" and self.get_trial(args[0]).state == args[1]:
                    return True
                raise
    return call


class ReconnectingStorage(RDBStorage):
    """RDBStorage whose calls are tried again on a fresh connection when theirs was dropped."""


for _name, _method in list(vars(RDBStorage).items()):
    if callable(_method) and _name not in NOT_RETRIED and (not _name.startswith("_") or _name in CACHE_CALLS):
        setattr(ReconnectingStorage, _name, _retried(_name, _method))

__all__ = ["ReconnectingStorage", "connection_lost"]
