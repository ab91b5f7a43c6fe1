"""Command line: parses arguments, calls a stage, turns known errors into one line (exit code 2)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pipeline import interrupts, quiet
from pipeline.arguments import build_parser, job, key_values
from pipeline.errors import UsageError
from pipeline.settings import JobSettings


def _report(args: argparse.Namespace, repeats: int | str, register: bool = True) -> None:
    """The report stage, on its own or at the end of tune."""
    from pipeline.stages.report import ReportSettings, format_result, report

    print(format_result(report(ReportSettings(problem=args.problem, top_k=args.top_k, repeats=repeats,
                                              margin=args.margin, register=register, **job(args),
                                              **({"ensemble": args.ensemble} if args.ensemble else {})))))


def run(args: argparse.Namespace) -> int:
    if args.command == "tune":
        from pipeline.stages.tune import TuneSettings, format_summary, tune

        result = tune(TuneSettings(
            problem=args.problem, architectures=args.arch, trials=args.trials, seeds=args.seeds,
            timeout=args.timeout or None, space=args.space, study_seed=args.study_seed, data=key_values(args.data),
            data_seed=args.data_seed, pruner=args.pruner, tag=args.tag, workers=args.workers, batch=args.batch,
            engine=args.engine, kt_algorithm=args.kt_algorithm, sampler=args.sampler, **job(args)))
        print(format_summary(result))
        if result.interrupted:
            return 130
        if not args.no_report:
            _report(args, args.report_seeds)
        return 0
    if args.command == "report":
        _report(args, args.repeats, register=not args.no_register)
        return 0
    if args.command == "predict":
        from pipeline.stages.predict import predict, read_inputs

        for raw, out in predict(args.problem, read_inputs(args.input, args.input_file), args.alias,
                                args.tracking, args.runs_dir):
            print(f"{raw!r} -> {out}")
        return 0
    if args.command == "serve":
        from pipeline.stages.serve import serve

        serve(args.problem, JobSettings(**job(args)), args.alias, args.host, args.port)
        return 0
    if args.command == "dashboard":
        from pipeline.stages.dashboard import dashboard

        dashboard(JobSettings(**job(args)), args.host, args.port)
        return 0
    if args.command == "retune":
        from pipeline.stages.retune import RetuneSettings, retune

        result = retune(RetuneSettings(
            problem=args.problem, data=key_values(args.data), data_seed=args.data_seed, repeats=args.repeats,
            extra_epochs=args.extra_epochs, trials=args.trials, **job(args)))
        print(result.decision)
        return 0
    if args.command == "schedule":
        from pipeline.stages.schedule import schedule

        print(schedule(args.problem, args.every, Path.cwd(), args.data))
        return 0
    if args.command == "sync":
        from pipeline.stages.sync import sync

        print(sync(JobSettings(**job(args))))
        return 0
    if args.command in ("rollback", "history"):
        from pipeline.champion import history, rollback

        print({"rollback": rollback, "history": history}[args.command](args.problem, args.tracking, args.runs_dir))
        return 0
    if args.command == "reproduce":
        from pipeline.stages.reproduce import format_table, reproduce

        print(format_table(reproduce(args.problem, args.seeds, key_values(args.data), echo=print,
                                          fuse=not args.no_fuse)))
        return 0
    raise UsageError(f"unknown command {args.command}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(__doc__)
    args = parser.parse_args(argv)
    if args.verbose:
        os.environ[quiet.VERBOSE_ENV] = "1"
    quiet.quiet()
    interrupts.install()
    try:
        code = run(args)
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
