"""The command line's arguments: one subparser per stage, the shared option groups, and the parsers of
KEY=VALUE and REPEATS values. Every default is read from the settings dataclasses (pipeline.settings,
pipeline.search.options): it is written once, there."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from pipeline.errors import UsageError
from pipeline.search.options import ENGINES, KT_ALGORITHMS, PRUNERS, SAMPLERS, TuneSettings
from pipeline.settings import (AUTO, DASHBOARD_PORT, HOST, REPRODUCE_SEEDS, SCHEDULE_EVERY, SERVE_PORT,
                               TUNE_REPORT_REPEATS, TUNE_REPORT_TOP_K, JobSettings, ReportSettings,
                               RetuneSettings)
from tracking.names import CHAMPION


def default(settings: type, name: str):
    """The default of field `name` of a settings dataclass (the one place it is written)."""
    return {f.name: f.default for f in dataclasses.fields(settings)}[name]


def key_values(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        for part in item.split():
            key, sep, value = part.partition("=")
            if not sep or not key:
                raise UsageError(f"expected key=value, got {part!r}")
            out[key] = value
    return out


def job(args: argparse.Namespace) -> dict:
    """JobSettings keyword arguments from the parsed options."""
    return {"storage": getattr(args, "storage", None), "tracking": args.tracking, "runs_dir": args.runs_dir,
            "progress": not getattr(args, "no_progress", False), "fuse": not getattr(args, "no_fuse", False)}


def _repeats(text: str) -> int | str:
    """REPEATS: a whole number of seeds, or auto."""
    if text == AUTO:
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number or {AUTO}, not {text!r}") from None


def _port(text: str) -> int:
    if not (text.isdigit() and 0 < int(text) < 65536):
        raise argparse.ArgumentTypeError(f"must be 1-65535, not {text!r}")
    return int(text)


def _job_options(parser: argparse.ArgumentParser, storage: bool = True, fuse: bool = True) -> None:
    """The options of JobSettings: stores, progress bars, fused towers."""
    runs = default(JobSettings, "runs_dir")
    if storage:
        parser.add_argument("--storage", help=f"Optuna storage URL (default: SQLite under {runs}/)")
    parser.add_argument("--tracking", help=f"MLflow tracking URI (default: SQLite under {runs}/)")
    parser.add_argument("--runs-dir", type=Path, default=runs, help=f"embedded stores (default: {runs}/)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    if fuse:
        parser.add_argument("--no-fuse", action="store_true", help="train seeds one by one, not as fused towers")


def _model_options(parser: argparse.ArgumentParser) -> None:
    """The registered model a command uses: its problem and alias, and where the registry lives."""
    parser.add_argument("--problem", required=True)
    parser.add_argument("--alias", default=CHAMPION, help=f"registry alias (default {CHAMPION})")
    _job_options(parser, storage=False, fuse=False)


def _server_options(parser: argparse.ArgumentParser, port: int) -> None:
    """--host (127.0.0.1 unless told otherwise) and --port of a command that serves over HTTP."""
    parser.add_argument("--host", default=HOST, help=f"address to bind (default {HOST})")
    parser.add_argument("--port", type=_port, default=port, help=f"port (default {port})")


def _report_options(parser: argparse.ArgumentParser, top_k: int, repeats: int | str, prefix: str = "") -> None:
    """The report's options (`prefix` names the repeats option where tune has its own --seeds)."""
    parser.add_argument("--top-k", type=int, default=top_k, help=f"best trials across studies (default {top_k})")
    parser.add_argument(f"--{prefix or 'repeats'}", dest="repeats", type=_repeats, default=repeats,
                        help=f"seeds per candidate, or {AUTO}: a pilot picks enough to detect the margin "
                        f"(default {repeats})")
    parser.add_argument("--margin", type=float, help="equivalence margin in the metric's units (default: the "
                        "problem's)")
    size = default(ReportSettings, "ensemble")
    parser.add_argument("--ensemble", type=int, default=size, help="seeds of the final refit; their ensemble is "
                        f"registered when it beats one seed (default {size}; 1 = one seed)")


def _tune(sub) -> None:
    d = lambda name: default(TuneSettings, name)  # noqa: E731
    tune = sub.add_parser("tune", help="run Optuna studies for a problem (one per architecture)")
    tune.add_argument("--problem", required=True, help="problem name (echo, addition, ..., csv)")
    tune.add_argument("--data", action="append", metavar="KEY=VALUE",
                      help="problem parameter or size, e.g. n_train=2000 terms=3 path=series.csv")
    _job_options(tune)
    tune.add_argument("--arch", default="all", help="architecture, comma list, or 'all' (default)")
    tune.add_argument("--trials", type=int, default=d("trials"),
                      help=f"new trials per study at most; the time budget usually ends first (default {d('trials')})")
    tune.add_argument("--seeds", type=int, default=d("seeds"), help=f"training seeds per trial (default {d('seeds')})")
    tune.add_argument("--timeout", type=float, default=d("timeout"),
                      help=f"seconds for the whole run, 0 = none (default {d('timeout'):.0f})")
    tune.add_argument("--workers", type=int, default=d("workers"),
                      help=f"local worker processes per study (default {d('workers')})")
    tune.add_argument("--batch", type=int, default=d("batch"), help="trials trained at once as one fused model, "
                      f"sharing a structure (default {d('batch')}; 1 = off)")
    tune.add_argument("--space", help="your own search-space YAML file")
    tune.add_argument("--study-seed", type=int, default=d("study_seed"), help="seeds the sampler and the training seeds")
    tune.add_argument("--data-seed", type=int, default=d("data_seed"))
    tune.add_argument("--pruner", default=d("pruner"), choices=PRUNERS, help="halving or hyperband (multi-fidelity "
                      f"over epochs), median or none (default {d('pruner')})")
    tune.add_argument("--tag", help="suffix for study names, to start separate studies")
    tune.add_argument("--engine", default=d("engine"), choices=ENGINES,
                      help=f"who picks the configurations (default {d('engine')}); keras-tuner: one process")
    tune.add_argument("--kt-algorithm", default=d("kt_algorithm"), choices=KT_ALGORITHMS,
                      help=f"KerasTuner's search with --engine keras-tuner (default {d('kt_algorithm')})")
    tune.add_argument("--sampler", default=d("sampler"), choices=SAMPLERS, help="Optuna's sampler: tpe, random, or "
                      f"gp (Gaussian process; needs PyTorch) (default {d('sampler')})")
    tune.add_argument("--no-report", action="store_true", help="do not run the report stage at the end")
    _report_options(tune, TUNE_REPORT_TOP_K, TUNE_REPORT_REPEATS, prefix="report-seeds")


def _report(sub) -> None:
    report = sub.add_parser("report", help="re-evaluate the best trials, pick a winner, register it")
    report.add_argument("--problem", required=True)
    _report_options(report, default(ReportSettings, "top_k"), default(ReportSettings, "repeats"))
    report.add_argument("--no-register", action="store_true")
    _job_options(report)


def _retune(sub) -> None:
    d = lambda name: default(RetuneSettings, name)  # noqa: E731
    retune = sub.add_parser("retune", help="unattended update: new data, candidates, promote only on evidence")
    retune.add_argument("--problem", required=True)
    retune.add_argument("--data", action="append", metavar="KEY=VALUE", help="csv: path=<newer file>")
    retune.add_argument("--data-seed", type=int, help="synthetic problems: the new data's seed")
    retune.add_argument("--repeats", type=int, default=d("repeats"), help=f"seeds per candidate (default {d('repeats')})")
    retune.add_argument("--extra-epochs", type=int, default=d("extra_epochs"))
    retune.add_argument("--trials", type=int, default=d("trials"),
                        help=f"trials of the warm-started study (0 = skip; default {d('trials')})")
    _job_options(retune)


def _models(sub) -> None:
    """The commands on registered models: predict, serve, rollback, history."""
    pred = sub.add_parser("predict", help="decode predictions of the registered champion for raw inputs")
    pred.add_argument("--input", action="append", help="a raw input, e.g. ' 9+6+9' (repeatable)")
    pred.add_argument("--input-file", help="a CSV of inputs (column 'input' or the first column)")
    _model_options(pred)
    serve = sub.add_parser("serve", help="serve the registered model of an alias over HTTP (MLflow's protocol)")
    _model_options(serve)
    _server_options(serve, SERVE_PORT)
    for name, text in (("rollback", "make the previous champion the champion again"),
                       ("history", "registry versions, aliases, scores and retune decisions")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--problem", required=True)
        _job_options(cmd, storage=False, fuse=False)


def _tools(sub) -> None:
    """dashboard, schedule, sync, reproduce."""
    board = sub.add_parser("dashboard", help="optuna-dashboard on the study storage (studies, trials, plots)")
    _server_options(board, DASHBOARD_PORT)
    _job_options(board, fuse=False)
    sched = sub.add_parser("schedule", help="print a crontab line and systemd units for a scheduled retune")
    sched.add_argument("--problem", required=True)
    sched.add_argument("--every", default=SCHEDULE_EVERY, help="hourly, daily, weekly or a cron expression "
                       f"(default {SCHEDULE_EVERY})")
    sched.add_argument("--data", help="DATA for the retune, e.g. path=/data/latest.csv")
    sync = sub.add_parser("sync", help="replay trial logging kept in runs/outbox/ while MLflow was unreachable")
    _job_options(sync, storage=False, fuse=False)
    rep = sub.add_parser("reproduce", help="train the book's reference configuration over seeds")
    rep.add_argument("--problem", required=True, help="problem name, or 'all'")
    rep.add_argument("--seeds", type=int, default=REPRODUCE_SEEDS, help=f"default {REPRODUCE_SEEDS}")
    rep.add_argument("--no-fuse", action="store_true", help="train seeds one by one, not as fused towers")
    rep.add_argument("--data", action="append", metavar="KEY=VALUE", help="problem parameter or size override")


def build_parser(description: str | None = None, epilog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lstm-tune", description=description, epilog=epilog,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="keep TensorFlow's and third-party libraries' log lines and warnings (VERBOSE=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_tune, _report, _models, _retune, _tools):
        add(sub)
    return parser
