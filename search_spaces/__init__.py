"""Search spaces as YAML, one file per architecture, and the loader that turns them into trial.suggest_* calls."""
from pathlib import Path

SPACES_DIR = Path(__file__).resolve().parent
