"""The layout's rules, checked on the source: who may talk to MLflow, who may import whom, file sizes,
and seed blocks that cannot overlap."""
import ast
from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.training.seeding import BLOCKS, REPORT, RETUNE, TUNE, report_seeds, retune_seeds, tuning_seeds

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "tracking", "reports", "search_spaces")
MAX_LINES = 250
LONGER_ALLOWED = {"reports/stats.py"}  # the one home of every decision rule


def modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_tracking_talks_to_mlflow():
    offenders = [name for name, path in modules() if not name.startswith("tracking/")
                 and (any(i == "mlflow" or i.startswith("mlflow.") for i in imports(path))
                      or ".client." in path.read_text() or "tracker.client" in path.read_text())]
    assert offenders == []


def test_no_stage_imports_another_stage():
    offenders = []
    for name, path in modules():
        if name.startswith("pipeline/stages/") and not name.endswith("__init__.py"):
            own = "pipeline.stages." + Path(name).stem
            offenders += [f"{name} imports {i}" for i in imports(path)
                          if i.startswith("pipeline.stages.") and not i.startswith(own)]
    assert offenders == []


def test_reports_import_nothing_of_ours():
    ours = ("pipeline", "tracking", "search_spaces")
    offenders = [f"{name}: {i}" for name, path in modules() if name.startswith("reports/")
                 for i in imports(path) if i.split(".")[0] in ours]
    assert offenders == []


def test_files_stay_small():
    long = {name: n for name, path in modules() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert set(long) <= LONGER_ALLOWED, long


def test_seed_blocks_cannot_overlap():
    spans = sorted((b.start, b.start + b.size) for b in BLOCKS)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:]))
    assert set(tuning_seeds(99, 1000)).isdisjoint(report_seeds(1000))
    assert max(tuning_seeds(99, 1000)) < REPORT.start and min(report_seeds(5)) == REPORT.start
    assert max(report_seeds(REPORT.size)) < RETUNE.start == min(retune_seeds(3))
    assert tuning_seeds(0, 3) == [0, 1, 2] and tuning_seeds(2, 2) == [2000, 2001] and TUNE.start == 0


@pytest.mark.parametrize("call", [lambda: tuning_seeds(100, 3), lambda: tuning_seeds(-1, 3),
                                  lambda: tuning_seeds(0, 1001), lambda: report_seeds(REPORT.size + 1)])
def test_seeds_outside_their_block_are_refused(call):
    with pytest.raises(UsageError, match="study-seed|leave its block"):
        call()
