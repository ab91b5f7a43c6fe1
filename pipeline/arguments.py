"""The command line's arguments: one subparser per stage, the shared option groups, and the parsers of
KEY=VALUE and REPEATS values."""
from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.engines import (DEFAULT_BATCH, DEFAULT_PRUNER, DEFAULT_SAMPLER, DEFAULT_TRIALS, ENGINES, KT_ALGORITHMS,
                              OPTUNA, PRUNERS, SAMPLERS)
from pipeline.errors import UsageError


def key_values(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        for part in item.split():
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise UsageError(f"expected key=value, got {part!r}")
            out[key] = value
    return out


def _job_options(parser: argparse.ArgumentParser, storage: bool = True, fuse: bool = True) -> None:
    """The options of JobSettings: stores, progress bars, fused towers."""
    if storage:
        parser.add_argument("--storage", help="Optuna storage URL (default: sqlite under runs/)")
    parser.add_argument("--tracking", help="MLflow tracking URI (default: sqlite under runs/)")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs"), help="embedded stores (default: runs/)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    if fuse:
        parser.add_argument("--no-fuse", action="store_true", help="train seeds one by one, not as fused towers")


def _model_options(parser: argparse.ArgumentParser) -> None:
    """The registered model a command uses: its problem and alias, and where the registry lives."""
    parser.add_argument("--problem", required=True)
    parser.add_argument("--alias", default="champion", help="registry alias (default champion)")
    _job_options(parser, storage=False, fuse=False)


def job(args: argparse.Namespace) -> dict:
    """JobSettings keyword arguments from the parsed options."""
    return {"storage": getattr(args, "storage", None), "tracking": args.tracking, "runs_dir": args.runs_dir,
            "progress": not getattr(args, "no_progress", False), "fuse": not getattr(args, "no_fuse", False)}


def _repeats(text: str) -> int | str:
    """REPEATS: a whole number of seeds, or auto."""
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number or auto, not {text!r}") from None


def _server_options(parser: argparse.ArgumentParser, port: int) -> None:
    """--host (127.0.0.1 unless told otherwise) and --port (1-65535) of a command that serves over HTTP."""
    def valid(text: str) -> int:
        if not (text.isdigit() and 0 < int(text) < 65536):
            raise argparse.ArgumentTypeError(f"must be 1-65535, not {text!r}")
        return int(text)

    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=valid, default=port, help=f"port (default {port})")


def build_parser(description: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-tune", description=description)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="keep TensorFlow's and third-party libraries' log lines and warnings (VERBOSE=1)")
    sub = parser.add_subparsers(dest="command", required=True)

    tune = sub.add_parser("tune", help="run Optuna studies for a problem (one per architecture)")
    tune.add_argument("--problem", required=True, help="problem name (echo, addition, ..., csv)")
    tune.add_argument("--data", action="append", metavar="KEY=VALUE",
                      help="problem parameter or size, e.g. n_train=2000 terms=3 path=series.csv")
    _job_options(tune)
    tune.add_argument("--arch", default="all", help="architecture, comma list, or 'all' (default)")
    tune.add_argument("--trials", type=int, default=DEFAULT_TRIALS,
                      help=f"new trials per study at most; the time budget usually ends first (default {DEFAULT_TRIALS})")
    tune.add_argument("--seeds", type=int, default=3, help="training seeds per trial (default 3)")
    tune.add_argument("--timeout", type=float, default=600, help="seconds for the whole run, 0 = none (default 600)")
    tune.add_argument("--workers", type=int, default=1, help="local worker processes per study (default 1)")
    tune.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                      help=f"trials trained at once as one fused model, sharing a structure (default {DEFAULT_BATCH}; "
                      "1 = off)")
    tune.add_argument("--space", help="your own search-space YAML file")
    tune.add_argument("--study-seed", type=int, default=0, help="seeds the sampler and the training seeds")
    tune.add_argument("--data-seed", type=int, default=0)
    tune.add_argument("--pruner", default=DEFAULT_PRUNER, choices=PRUNERS,
                      help=f"halving or hyperband (multi-fidelity over epochs), median or none (default {DEFAULT_PRUNER})")
    tune.add_argument("--tag", help="suffix for study names, to start separate studies")
    tune.add_argument("--engine", default=OPTUNA, choices=ENGINES,
                      help="who picks the configurations (default optuna); keras-tuner: one process")
    tune.add_argument("--kt-algorithm", default="random", choices=KT_ALGORITHMS,
                      help="KerasTuner's search with --engine keras-tuner (default random)")
    tune.add_argument("--sampler", default=DEFAULT_SAMPLER, choices=SAMPLERS,
                      help=f"Optuna's sampler: tpe, random, or gp (Gaussian process; needs PyTorch) "
                      f"(default {DEFAULT_SAMPLER})")

    tune.add_argument("--no-report", action="store_true", help="do not run the report stage at the end")
    tune.add_argument("--report-seeds", type=_repeats, default=10,
                      help="seeds per candidate in the final report, or auto (default 10)")
    tune.add_argument("--top-k", type=int, default=3, help="candidates in the final report")
    tune.add_argument("--margin", type=float, help="equivalence margin of the report (default: the problem's)")
    tune.add_argument("--ensemble", type=int, help="seeds of the final refit; their ensemble is "
                      "registered when it beats one seed (default 5; 1 = one seed)")

    report = sub.add_parser("report", help="re-evaluate the best trials, pick a winner, register it")
    report.add_argument("--problem", required=True)
    report.add_argument("--top-k", type=int, default=5, help="best trials across studies (default 5)")
    report.add_argument("--repeats", type=_repeats, default=30,
                        help="seeds per candidate, or auto: a pilot picks enough to detect the margin (default 30)")
    report.add_argument("--margin", type=float, help="equivalence margin in the metric's units (default: the "
                        "problem's)")
    report.add_argument("--no-register", action="store_true")
    report.add_argument("--ensemble", type=int, help="seeds of the final refit; their ensemble is "
                        "registered when it beats one seed (default 5; 1 = one seed)")
    _job_options(report)

    pred = sub.add_parser("predict", help="decode predictions of the registered champion for raw inputs")
    pred.add_argument("--input", action="append", help="a raw input, e.g. ' 9+6+9' (repeatable)")
    pred.add_argument("--input-file", help="a CSV of inputs (column 'input' or the first column)")
    _model_options(pred)

    serve = sub.add_parser("serve", help="serve the registered model of an alias over HTTP (MLflow's protocol)")
    _model_options(serve)
    _server_options(serve, 5001)

    board = sub.add_parser("dashboard", help="optuna-dashboard on the study storage (studies, trials, plots)")
    _server_options(board, 8080)
    _job_options(board, fuse=False)

    retune = sub.add_parser("retune", help="unattended update: new data, candidates, promote only on evidence")
    retune.add_argument("--problem", required=True)
    retune.add_argument("--data", action="append", metavar="KEY=VALUE", help="csv: path=<newer file>")
    retune.add_argument("--data-seed", type=int, help="synthetic problems: the new data's seed")
    retune.add_argument("--repeats", type=int, default=10, help="seeds per candidate (default 10)")
    retune.add_argument("--extra-epochs", type=int, default=5)
    retune.add_argument("--trials", type=int, default=4, help="trials of the warm-started study (0 = skip)")
    _job_options(retune)

    sched = sub.add_parser("schedule", help="print a crontab line and systemd units for a scheduled retune")
    sched.add_argument("--problem", required=True)
    sched.add_argument("--every", default="weekly", help="hourly, daily, weekly or a cron expression")
    sched.add_argument("--data", help="DATA for the retune, e.g. path=/data/latest.csv")

    for name, text in (("rollback", "make the previous champion the champion again"),
                       ("history", "registry versions, aliases, scores and retune decisions")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--problem", required=True)
        _job_options(cmd, storage=False, fuse=False)

    sync = sub.add_parser("sync", help="replay trial logging kept in runs/outbox/ while MLflow was unreachable")
    _job_options(sync, storage=False, fuse=False)

    rep = sub.add_parser("reproduce", help="train the book's reference configuration over seeds")
    rep.add_argument("--problem", required=True, help="problem name, or 'all'")
    rep.add_argument("--seeds", type=int, default=5)
    rep.add_argument("--no-fuse", action="store_true", help="train seeds one by one, not as fused towers")
    rep.add_argument("--data", action="append", metavar="KEY=VALUE", help="problem parameter or size override")
    return parser
