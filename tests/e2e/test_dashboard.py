"""`lstm-tune dashboard`: optuna-dashboard on the study storage answers with the study (SQLite here;
a database URL goes through the same storage)."""
import json
import subprocess
import sys
import time
import urllib.request

import optuna

from bench.serving import free_port
from pipeline.stores.storage import optuna_storage


def test_dashboard_serves_the_studies_of_the_storage(tmp_path):
    runs = tmp_path / "runs"
    study = optuna.create_study(study_name="echo-vanilla", storage=optuna_storage(None, runs), direction="maximize")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=3)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "dashboard", "--port", str(port), "--runs-dir",
                             str(runs)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, answer = time.monotonic() + 120, None
        while time.monotonic() < deadline and proc.poll() is None and answer is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    answer = (response.status, json.loads(response.read()))
            except OSError:
                time.sleep(0.5)
        assert answer is not None, proc.stdout.read() if proc.poll() is not None else "no answer"
        status, body = answer
        assert status == 200 and [s["study_name"] for s in body["study_summaries"]] == ["echo-vanilla"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/dashboard", timeout=5) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "optuna-dashboard for sqlite:///" in out and f"http://127.0.0.1:{port}/" in out
