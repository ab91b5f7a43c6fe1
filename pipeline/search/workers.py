"""Local worker processes sharing one study: each opens the study itself and runs trials until the
target is reached; the launcher shows their trials on its progress bar."""
from __future__ import annotations

from pipeline import quiet

quiet.quiet()  # a spawned worker imports this module first: silence TensorFlow before it loads

import multiprocessing  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

import optuna  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipeline import cores, interrupts  # noqa: E402
from pipeline.search.objective import Objective  # noqa: E402
from pipeline.search.options import TuneSettings  # noqa: E402
from pipeline.search.progress import FINISHED, Progress, count_finished  # noqa: E402
from pipeline.stores.storage import GRACE_SECONDS  # noqa: E402
from pipeline.search.studies import open_study, session  # noqa: E402


def run_workers(settings: TuneSettings, arch: str, target: int, timeout: float | None, study: optuna.Study,
                progress: Progress) -> None:
    """Start `workers` processes on the study until `target` trials have finished; show progress."""
    context = multiprocessing.get_context("spawn")
    worker_settings = replace(settings, architectures=arch, workers=1, progress=False)
    threads = max(1, cores() // settings.workers)
    procs = [context.Process(target=_worker_main, args=(worker_settings, arch, target, timeout, threads),
                             daemon=False) for _ in range(settings.workers)]
    for proc in procs:
        proc.start()
    try:
        seen = count_finished(study)
        while any(p.is_alive() for p in procs):
            time.sleep(1.0)
            trials = study.get_trials(deepcopy=False, states=FINISHED)
            for trial in sorted(trials, key=lambda t: t.number)[seen:]:
                progress(study, trial)
            seen = len(trials)
    finally:
        for proc in procs:
            proc.join()
    failed = [p.exitcode for p in procs if p.exitcode not in (0, None)]
    if failed:  # no trial is left RUNNING: once the dead workers' heartbeats are stale, their trials fail
        progress.write(f"  {len(failed)} worker(s) exited with codes {failed}; their trials are failed in "
                       f"{GRACE_SECONDS} s and retried on the next run")
        time.sleep(GRACE_SECONDS)
        optuna.storages.fail_stale_trials(study)


def _worker_main(settings: TuneSettings, arch: str, target: int, timeout: float | None, threads: int) -> None:
    """One worker process: trials on the shared study until `target` have finished (or are running).

    Local workers share the cores: each runs as many ops at once as its share of them, each op on one
    thread (the rule of pipeline/__init__.py), so that they don't compete for the same cores.
    """
    interrupts.install()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    pair = open_study(session(settings), arch)
    pair.ctx.deadline = None if timeout is None else time.monotonic() + timeout
    stop = optuna.study.MaxTrialsCallback(target, states=FINISHED + (optuna.trial.TrialState.RUNNING,))
    if count_finished(pair.study, running=True) >= target:
        return
    try:
        pair.study.optimize(Objective(pair.ctx), n_trials=None, timeout=timeout, callbacks=[stop],
                            catch=(Exception,), gc_after_trial=False)
    except KeyboardInterrupt:
        pass
