"""Bad input: one clear line, exit code 2, nothing written."""
import pytest

from pipeline.cli import main


def run(argv, tmp_path, capsys):
    code = main(argv + ["--runs-dir", str(tmp_path / "runs"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    return code, err


CSV_CASES = [
    (None, "path=missing.csv", "file not found"),
    ("", "", "the file is empty"),
    ("date,load\n", "", "has a header but no rows"),
    ("date,load\n2020-01-01,1\n2020-01-02,abc\n" + "2020-01-03,3\n" * 60, "", "column 'load' is not numeric"),
    ("a,b\n" + "".join(f"{i},{i if i % 7 else ''}\n" for i in range(80)), "", "column 'b' has 12 missing value(s)"),
    ("a,b\n" + "".join(f"{i},{i}\n" for i in range(10)), "", "10 rows are too few for lags=12"),
    ("a,b\n" + "".join(f"{i},{i}\n" for i in range(80)), "target=price", "target column 'price' not found; "
                                                                          "numeric columns: a, b"),
    ("name\nx\ny\n", "", "column 'name' is not numeric"),
]


@pytest.mark.parametrize("content,extra,needle", CSV_CASES)
def test_bad_csv(tmp_path, capsys, content, extra, needle):
    path = tmp_path / "series.csv"
    if content is not None:
        path.write_text(content)
    data = extra if extra.startswith("path=") else f"path={path} {extra}".strip()
    code, err = run(["tune", "--problem", "csv", "--data", data], tmp_path, capsys)
    assert code == 2 and needle in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_csv_needs_a_path(tmp_path, capsys):
    code, err = run(["tune", "--problem", "csv"], tmp_path, capsys)
    assert code == 2 and "needs path=<file.csv>" in err


def test_unreachable_storage_is_named_with_its_password_masked(tmp_path, capsys):
    code, err = run(["tune", "--problem", "echo", "--storage", "postgresql://alice:s3cret@127.0.0.1:1/db"],
                    tmp_path, capsys)
    assert code == 2 and "cannot open Optuna storage postgresql://alice:***@127.0.0.1:1/db" in err
    assert "s3cret" not in err and "start PostgreSQL" in err
    assert not (tmp_path / "runs").exists()


def test_unreachable_tracking_server_says_how_to_start_it(tmp_path, capsys):
    code, err = run(["tune", "--problem", "echo", "--tracking", "http://127.0.0.1:1"], tmp_path, capsys)
    assert code == 2 and "cannot reach MLflow tracking at http://127.0.0.1:1" in err and "make server" in err
    assert not (tmp_path / "runs" / "optuna.db").exists()


def test_hostile_yaml_is_refused(tmp_path, capsys):
    bad = tmp_path / "space.yaml"
    marker = tmp_path / "pwned"
    bad.write_text(f"!!python/object/apply:os.system ['touch {marker}']\n")
    code, err = run(["tune", "--problem", "echo", "--space", str(bad)], tmp_path, capsys)
    assert code == 2 and "not valid YAML" in err and not marker.exists()



def test_several_workers_on_the_embedded_stores_are_refused_with_what_to_use(tmp_path, capsys):
    code, err = run(["tune", "--problem", "echo", "--workers", "2"], tmp_path, capsys)
    assert code == 2 and "WORKERS=2 needs database servers" in err and "STORAGE, TRACKING" in err
    assert "STORAGE=postgresql://" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("command", ["serve", "dashboard"])
def test_a_port_outside_1_to_65535_is_refused_in_one_line(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--port", "70000"] + (["--problem", "echo"] if command == "serve" else []))
    assert exit_.value.code == 2 and "--port: must be 1-65535, not '70000'" in capsys.readouterr().err
