"""The layout's rules, checked on the source (ARCHITECTURE.md states them): no import cycle; folders import
only the folders below them; nothing outside the stages and the command line imports a stage; who may talk
to MLflow; small files and short, narrow functions; seed blocks that cannot overlap. Each structural check
is also run on a planted violation, so that it is known to fail."""
import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from pipeline.errors import UsageError
from pipeline.training.seeding import BLOCKS, REPORT, RETUNE, TUNE, report_seeds, retune_seeds, tuning_seeds

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "tracking", "reports", "search_spaces")
MAX_LINES, MAX_FUNCTION_LINES, MAX_PARAMETERS = 300, 50, 8
# Folders from the top down: each may import only its own layer and the layers below it (the leaf
# modules at the bottom). `pipeline.cli` and `pipeline.arguments` sit with the stages.
LAYERS = (
    ("pipeline.stages", "pipeline.cli", "pipeline.arguments"),
    ("pipeline.report",),
    ("pipeline.champion",),
    ("pipeline.search",),
    ("pipeline.settings",),
    ("pipeline.stores",),
    ("tracking",),
    ("pipeline.training",),
    ("search_spaces",),
    ("pipeline.problems", "pipeline.architectures"),
    ("reports",),
    ("pipeline.errors", "pipeline.quiet", "pipeline.interrupts", "pipeline"),
)
STAGES = ("pipeline.stages.", "pipeline.cli", "pipeline.arguments")


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the packages under `root`."""
    files = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            files[".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")] = path
    return files


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports, anywhere in the file (inside functions too)."""
    files = module_files(root)
    graph = {}
    for name, path in files.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of `graph` ([] when there is none)."""
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        return exc.args[1]
    return []


def layer(module: str) -> int:
    """The index in LAYERS of the folder (or leaf module) `module` belongs to: its longest matching prefix."""
    best = max(((len(prefix), index) for index, names in enumerate(LAYERS) for prefix in names
                if module == prefix or module.startswith(prefix + ".")), default=None)
    assert best is not None, f"{module} is in no layer of LAYERS: place it"
    return best[1]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that run from a folder up to a folder above it (within a layer, the cycle check rules)."""
    return sorted(f"{source} -> {target}" for source, targets in graph.items() for target in targets
                  if layer(target) < layer(source))


def stage_importers(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{source} -> {target}" for source, targets in graph.items() for target in targets
                  if target.startswith("pipeline.stages.") and not source.startswith(STAGES))


def plant(tmp_path: Path, modules: dict[str, str]) -> Path:
    """A tree of the packages under tmp_path holding `modules` (dotted name -> source)."""
    for package in PACKAGES:
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    for name, source in modules.items():
        path = tmp_path.joinpath(*name.split(".")).with_suffix(".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(source)
    return tmp_path


def test_no_import_cycle():
    assert cycle(import_graph()) == []


def test_a_planted_cycle_is_found_also_through_an_import_inside_a_function(tmp_path):
    root = plant(tmp_path, {"pipeline.search.a": "from pipeline.search.b import x\n",
                            "pipeline.search.b": "def x():\n    from pipeline.search import a\n"})
    assert set(cycle(import_graph(root))) == {"pipeline.search.a", "pipeline.search.b"}


def test_folders_import_only_the_folders_below_them():
    assert upward_imports(import_graph()) == []


def test_a_planted_upward_import_is_found(tmp_path):
    root = plant(tmp_path, {"pipeline.training.one_seed": "from pipeline.search.studies import open_study\n",
                            "pipeline.search.studies": "def open_study(): ...\n"})
    assert upward_imports(import_graph(root)) == ["pipeline.training.one_seed -> pipeline.search.studies"]


def test_nothing_outside_the_stages_and_the_command_line_imports_a_stage():
    assert stage_importers(import_graph()) == []


def test_a_planted_stage_import_is_found(tmp_path):
    root = plant(tmp_path, {"pipeline.search.workers": "from pipeline.stages.tune import tune\n",
                            "pipeline.stages.tune": "def tune(): ...\n",
                            "pipeline.stages.report": "from pipeline.stages.tune import tune\n"})
    graph = import_graph(root)
    assert stage_importers(graph) == ["pipeline.search.workers -> pipeline.stages.tune"]
    assert stage_to_stage(graph) == ["pipeline.stages.report -> pipeline.stages.tune"]


def stage_to_stage(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{source} -> {target}" for source, targets in graph.items() for target in targets
                  if source.startswith("pipeline.stages.") and target.startswith("pipeline.stages.")
                  and target != "pipeline.stages")


def test_no_stage_imports_another_stage():
    assert stage_to_stage(import_graph()) == []


def test_only_tracking_talks_to_mlflow():
    offenders = [name for name, path in module_files().items() if not name.startswith("tracking")
                 and ("import mlflow" in path.read_text() or "from mlflow" in path.read_text()
                      or ".client." in path.read_text() or "tracker.client" in path.read_text())]
    assert offenders == []


def test_reports_import_nothing_of_ours():
    graph = import_graph()
    assert sorted(f"{m} -> {t}" for m, targets in graph.items() if m.startswith("reports") for t in targets
                  if not t.startswith("reports")) == []


def test_files_stay_small():
    long = {name: n for name, path in module_files().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def long_or_wide_functions(root: Path = ROOT) -> list[str]:
    """Functions over MAX_FUNCTION_LINES lines or MAX_PARAMETERS parameters (self/cls not counted); a
    Keras layer's constructor may take more (its arguments are the layer's configuration)."""
    found = []
    for name, path in module_files(root).items():
        tree = ast.parse(path.read_text())
        layers = {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                  and any("Layer" in ast.unparse(base) for base in node.bases)}
        for cls in [tree] + [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
            for node in ast.iter_child_nodes(cls):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                lines = node.end_lineno - node.lineno + 1
                args = node.args
                params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg not in ("self", "cls")]
                keras_init = node.name == "__init__" and getattr(cls, "name", None) in layers
                if lines > MAX_FUNCTION_LINES or (len(params) > MAX_PARAMETERS and not keras_init):
                    found.append(f"{name}.{node.name}: {lines} lines, {len(params)} parameters")
    return sorted(found)


def test_functions_are_short_and_narrow():
    assert long_or_wide_functions() == []


def test_a_planted_long_or_wide_function_is_found(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    root = plant(tmp_path, {"pipeline.search.big": f"def long():\n{body}\n\ndef wide(a, b, c, d, e, f, g, h, i):\n"
                                                   "    pass\n"})
    assert long_or_wide_functions(root) == [f"pipeline.search.big.long: {MAX_FUNCTION_LINES + 1} lines, 0 parameters",
                                            "pipeline.search.big.wide: 2 lines, 9 parameters"]


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


def duplicate_test_names(root: Path = ROOT) -> list[str]:
    """Test files that share a name in different folders: pytest imports test modules by their basename
    (no __init__.py in tests/), so the second one stops the collection of the whole suite."""
    names = [path.name for path in (root / "tests").rglob("test_*.py")]
    return sorted({name for name in names if names.count(name) > 1})


def test_test_files_have_unique_names(tmp_path):
    assert duplicate_test_names() == []
    for folder in ("unit", "e2e"):
        (tmp_path / "tests" / folder).mkdir(parents=True)
        (tmp_path / "tests" / folder / "test_same.py").touch()
    assert duplicate_test_names(tmp_path) == ["test_same.py"]
