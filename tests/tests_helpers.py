"""Helpers shared by tests that drive the CLI in a subprocess."""
import time

import optuna


def wait_for_running_trial(storage: str, study_name: str, proc, min_number: int = 0, timeout: float = 240) -> int:
    """The number of a trial that is running (with its MLflow run started) once one appears."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            study = optuna.load_study(study_name=study_name, storage=storage)
            running = [t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING
                       and t.number >= min_number and "mlflow_run_id" in t.user_attrs]
        except Exception:  # the database or the study does not exist yet
            running = []
        if running:
            return running[0].number
        time.sleep(0.2)
    raise AssertionError(f"no running trial appeared: {proc.stdout.read()[-2000:] if proc.poll() is not None else ''}")
