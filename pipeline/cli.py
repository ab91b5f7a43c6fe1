"""lstm-tune: find the best LSTM for a sequence problem, chosen with statistics and tracked in MLflow.

Start with `lstm-tune tune --problem addition` (or `make tune PROBLEM=addition`): an Optuna study per
architecture, every trial over several seeds, then a report that re-evaluates the best candidates,
picks a winner with statistical tests and registers it as `champion` in the MLflow Model Registry.
Look at the runs with `make ui`, predict with `lstm-tune predict`, keep the model fresh with `retune`.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Callable

from pipeline import interrupts, quiet
from pipeline.arguments import build_parser, job, key_values
from pipeline.errors import UsageError
from pipeline.settings import JobSettings, ReportSettings, RetuneSettings

EXAMPLES = """examples:
  lstm-tune tune --problem addition                    tune, report, register (about 15 minutes)
  lstm-tune tune --problem csv --data path=examples/air_passengers.csv target=passengers
  lstm-tune predict --problem addition --input ' 9+6+9'
  lstm-tune retune --problem addition                  promote a new champion only on evidence
Errors a user can fix print one line and exit with code 2."""


def _report(args: argparse.Namespace, register: bool = True) -> int:
    """The report stage, on its own or at the end of tune."""
    from pipeline.stages.report import format_result, report

    print(format_result(report(ReportSettings(problem=args.problem, top_k=args.top_k, repeats=args.repeats,
                                              margin=args.margin, register=register, ensemble=args.ensemble,
                                              **job(args)))))
    return 0


def _tune(args: argparse.Namespace) -> int:
    from pipeline.search.options import TuneSettings
    from pipeline.stages.tune import format_summary, tune

    result = tune(TuneSettings(
        problem=args.problem, architectures=args.arch, trials=args.trials, seeds=args.seeds,
        timeout=args.timeout or None, space=args.space, study_seed=args.study_seed, data=key_values(args.data),
        data_seed=args.data_seed, pruner=args.pruner, tag=args.tag, workers=args.workers, batch=args.batch,
        engine=args.engine, kt_algorithm=args.kt_algorithm, sampler=args.sampler, **job(args)))
    print(format_summary(result))
    if result.interrupted:
        return 130
    return 0 if args.no_report else _report(args)


def _predict(args: argparse.Namespace) -> int:
    from pipeline.stages.predict import predict, read_inputs

    for raw, out in predict(args.problem, read_inputs(args.input, args.input_file), args.alias, JobSettings(**job(args))):
        print(f"{raw!r} -> {out}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from pipeline.stages.serve import serve

    serve(args.problem, JobSettings(**job(args)), args.alias, args.host, args.port)
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from pipeline.stages.dashboard import dashboard

    dashboard(JobSettings(**job(args)), args.host, args.port)
    return 0


def _retune(args: argparse.Namespace) -> int:
    from pipeline.stages.retune import retune

    print(retune(RetuneSettings(problem=args.problem, data=key_values(args.data), data_seed=args.data_seed,
                                repeats=args.repeats, extra_epochs=args.extra_epochs, trials=args.trials,
                                **job(args))).decision)
    return 0


def _schedule(args: argparse.Namespace) -> int:
    from pipeline.stages.schedule import schedule

    print(schedule(args.problem, args.every, Path.cwd(), args.data))
    return 0


def _sync(args: argparse.Namespace) -> int:
    from pipeline.stages.sync import sync

    print(sync(JobSettings(**job(args))))
    return 0


def _registry(args: argparse.Namespace) -> int:
    from pipeline.champion import history, rollback

    print({"rollback": rollback, "history": history}[args.command](args.problem, JobSettings(**job(args))))
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from pipeline.stages.reproduce import format_table, reproduce

    print(format_table(reproduce(args.problem, args.seeds, key_values(args.data), echo=print, fuse=not args.no_fuse)))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "tune": _tune, "report": lambda args: _report(args, register=not args.no_register), "predict": _predict,
    "serve": _serve, "dashboard": _dashboard, "retune": _retune, "schedule": _schedule, "sync": _sync,
    "rollback": _registry, "history": _registry, "reproduce": _reproduce,
}


def main(argv: list[str] | None = None) -> int:
    """Parse, run a command; a UsageError is one line and exit code 2, any other failure one line and 1."""
    args = build_parser(__doc__, EXAMPLES).parse_args(argv)
    if args.verbose:
        os.environ[quiet.VERBOSE_ENV] = "1"
    quiet.quiet()
    interrupts.install()
    try:
        code = COMMANDS[args.command](args)
        interrupts.check()  # a Ctrl-C that landed in a finalizer after the last epoch's check is still one
        return code
    except UsageError as exc:
        print(f"lstm-tune: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lstm-tune: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unattended job needs one line and a non-zero exit
        if os.environ.get("LSTM_TUNE_DEBUG"):
            raise
        print(f"lstm-tune: failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(set LSTM_TUNE_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
