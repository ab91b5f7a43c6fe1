"""pyproject.toml lists no dependency that nothing uses: each is imported by the project (or its bench and
tests), or is named here with the reason it is needed without an import."""
import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMPORT_NAMES = {"tensorflow-cpu": "tensorflow", "keras-tuner": "keras_tuner", "optuna-dashboard": "optuna_dashboard",
                "scikit-learn": "sklearn", "PyYAML": "yaml", "psycopg": "psycopg"}
NOT_IMPORTED = {
    "tensorboard": "keras-tuner needs it installed (TF 2.21 no longer pulls it in): without it every trial fails",
    "pytest-timeout": "a pytest plugin, loaded by pytest",
    "mkdocs": "the manual's build (make docs; tests/e2e/test_docs.py)",
    "mkdocs-material": "the manual's theme (mkdocs.yml)",
    "pymdown-extensions": "the manual's includes of bench/results.md and ARCHITECTURE.md (mkdocs.yml)",
}


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return [re.split(r"[\[<>=!~ ]", r, maxsplit=1)[0] for r in listed]


def imported(folders=("pipeline", "tracking", "reports", "search_spaces", "bench", "tests")) -> set[str]:
    names = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module.split(".")[0])
    return names


def unused(listed: list[str], names: set[str]) -> list[str]:
    return [r for r in listed if r not in NOT_IMPORTED and IMPORT_NAMES.get(r, r.replace("-", "_")) not in names]


def test_every_listed_dependency_is_used():
    assert unused(requirements(), imported()) == []


def test_a_dependency_nothing_imports_is_found():
    assert unused(requirements() + ["optuna-integration"], imported()) == ["optuna-integration"]
