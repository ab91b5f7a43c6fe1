"""Serving over HTTP: the real scoring server (MLflow's protocol under uvicorn) started by `lstm-tune serve`
on a free local port for a tiny registered model; valid and invalid requests, status codes, bodies."""
import json

import pytest

from bench.serving import post, register_model, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("serve") / "runs"
    examples, answers = register_model(runs)
    with running_server(runs) as (port, proc):
        yield port, examples[:3], answers[:3]
    assert "serving lstm-echo v1 ('champion' when started" in proc.stdout.read()


def test_valid_rows_get_the_models_answers(server):
    port, examples, answers = server
    assert post(port, examples) == (200, {"predictions": answers})


def test_a_batch_with_invalid_rows_is_refused_whole_with_every_row_named_and_no_trace(server):
    port, examples, _ = server
    status, body = post(port, [examples[0], "[1, 2]", "abc"])
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    message = body["message"]
    assert message.startswith("2 of 3 row(s) invalid, nothing predicted: row 1: ")
    assert "row 2: " in message and "not a JSON list" in message and "row 0" not in message
    assert "\n" not in message and "Traceback" not in json.dumps(body) and ".py" not in json.dumps(body)
    assert "stack_trace" not in body
