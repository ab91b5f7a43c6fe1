"""What a user sees on the terminal: no library noise before the lines that matter."""
import os
import subprocess
import sys


def test_a_tiny_tune_prints_no_library_noise(tmp_path):
    """Quiet by default: no TensorFlow/absl start-up lines and no third-party warnings, one line first."""
    out = subprocess.run([sys.executable, "-m", "pipeline.cli", "tune", "--problem", "echo", "--arch", "vanilla",
                          "--trials", "1", "--seeds", "2", "--no-report", "--data", "n_train=64", "--data", "n_val=32",
                          "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True, timeout=600,
                         env={k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",
                                                                               "LSTM_TUNE_VERBOSE")})
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    for noise in ("Warning", "WARNING", "absl", "I0000", "E0000", "oneDNN", "Traceback"):
        assert noise not in text, f"{noise!r} in the output:\n{text[-3000:]}"
    assert out.stderr.startswith("tuning echo: vanilla; up to 1 new trials each over 2 seeds")
