"""A candidate row's MLflow runs: run ids as text, links when the tracking URI is a server (it serves the UI)."""
from reports.html import Link, table_html, table_markdown
from tracking.ui import candidates_url, experiment_url, run_url, server_url

RUN = "0123456789abcdef0123456789abcdef"


def test_runs_are_links_on_a_server_and_ids_elsewhere():
    assert server_url("sqlite:///runs/mlflow.db") is None and server_url("postgresql://h/db") is None
    base = server_url("http://127.0.0.1:5000/")
    assert base == "http://127.0.0.1:5000"
    assert run_url(base, "3", RUN) == f"http://127.0.0.1:5000/#/experiments/3/runs/{RUN}?workflowType=machine_learning"
    assert experiment_url(base, "3") == "http://127.0.0.1:5000/#/experiments/3/runs?workflowType=machine_learning"
    assert candidates_url(base, "3").endswith("&viewStateShareKey=candidates&compareRunsMode=CHART")


def test_a_table_cell_of_links_renders_in_html_and_markdown():
    cell = [Link(f"re-evaluation {RUN}", run_url("http://h:5000", "1", RUN)), Link("tuning trial abc")]
    html = table_html(["candidate", "MLflow runs"], [["a<b", cell]])
    assert f'<a href="http://h:5000/#/experiments/1/runs/{RUN}?workflowType=machine_learning">re-evaluation {RUN}</a>' \
           "<br>tuning trial abc" in html and "a&lt;b" in html
    markdown = table_markdown(["candidate", "MLflow runs"], [["a", cell]])
    assert f"[re-evaluation {RUN}](http://h:5000/#/experiments/1/runs/{RUN}?workflowType=machine_learning); " \
           "tuning trial abc |" in markdown
