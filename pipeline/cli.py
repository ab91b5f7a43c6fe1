"""Command line: parses arguments, calls a stage, turns known errors into one line (exit code 2)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.errors import UsageError


def _key_values(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        for part in item.split():
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise UsageError(f"expected key=value, got {part!r}")
            out[key] = value
    return out


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--problem", required=True, help="problem name (echo, addition, ..., csv)")
    parser.add_argument("--data", action="append", metavar="KEY=VALUE",
                        help="problem parameter or size, e.g. n_train=2000 terms=3 path=series.csv")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="embedded stores (default: runs/)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-tune", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    tune = sub.add_parser("tune", help="run Optuna studies for a problem (one per architecture)")
    _common(tune)
    tune.add_argument("--arch", default="all", help="architecture, comma list, or 'all' (default)")
    tune.add_argument("--trials", type=int, default=20, help="new trials per study (default 20)")
    tune.add_argument("--seeds", type=int, default=3, help="training seeds per trial (default 3)")
    tune.add_argument("--timeout", type=float, default=600, help="seconds for the whole run, 0 = none (default 600)")
    tune.add_argument("--storage", help="Optuna storage URL (default: sqlite under runs/)")
    tune.add_argument("--tracking", help="MLflow tracking URI (default: sqlite under runs/)")
    tune.add_argument("--space", help="your own search-space YAML file")
    tune.add_argument("--study-seed", type=int, default=0, help="seeds the sampler and the training seeds")
    tune.add_argument("--data-seed", type=int, default=0)
    tune.add_argument("--pruner", default="median", choices=["median", "none"])
    tune.add_argument("--tag", help="suffix for study names, to start separate studies")
    tune.add_argument("--no-progress", action="store_true")

    rep = sub.add_parser("reproduce", help="train the book's reference configuration over seeds")
    rep.add_argument("--problem", required=True, help="problem name, or 'all'")
    rep.add_argument("--seeds", type=int, default=5)
    rep.add_argument("--data", action="append", metavar="KEY=VALUE", help="problem parameter or size override")
    return parser


def run(args: argparse.Namespace) -> int:
    if args.command == "tune":
        from pipeline.stages.tune import TuneSettings, format_summary, tune

        result = tune(TuneSettings(
            problem=args.problem, architectures=args.arch, trials=args.trials, seeds=args.seeds,
            timeout=args.timeout or None, storage=args.storage, tracking=args.tracking, space=args.space,
            study_seed=args.study_seed, data=_key_values(args.data), data_seed=args.data_seed,
            pruner=args.pruner, tag=args.tag, runs_dir=args.runs_dir, progress=not args.no_progress))
        print(format_summary(result))
        return 130 if result.interrupted else 0
    if args.command == "reproduce":
        from pipeline.stages.reproduce import format_table, reproduce

        print(format_table(reproduce(args.problem, args.seeds, _key_values(args.data), echo=print)))
        return 0
    raise UsageError(f"unknown command {args.command}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args)
    except UsageError as exc:
        print(f"lstm-tune: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lstm-tune: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
