"""Serving a registered model over HTTP: MLflow's scoring server (the /invocations protocol,
/ping, /health, /version) run by uvicorn in this process, with errors answered in one line.

MLflow answers an error with the whole input echoed before the reason, and an unexpected one with a
stack trace that names the server's files; here every error response keeps its status code and says
`{"error_code": ..., "message": <one line>}`; the trace goes to the server's log only.
"""
from __future__ import annotations

import json
import logging

import mlflow
from mlflow.pyfunc import scoring_server

LOG = logging.getLogger("lstm-tune.serve")
MLFLOW_PREFIX = "\nError: "  # MLflow's invocations() puts "Failed to predict data '<input>'" before it
UNEXPECTED = "the model failed on this input; the server log has the details"


def one_line(error: dict) -> dict:
    """An MLflow error body reduced to its code and the reason in one line (no input echo, no trace)."""
    message = str(error.get("message", "")).split(MLFLOW_PREFIX, 1)[-1].strip()
    if error.get("stack_trace"):
        LOG.error("%s\n%s", message, error["stack_trace"])
        if "unexpected error" in message:
            message = UNEXPECTED
    return {"error_code": error.get("error_code", "INTERNAL_ERROR"), "message": " ".join(message.split())}


def serving_app(model_uri: str):
    """The scoring app of a model URI (load it once, here)."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response

    app = scoring_server.init(mlflow.pyfunc.load_model(model_uri))

    @app.middleware("http")
    async def errors_in_one_line(request: Request, call_next):
        response = await call_next(request)
        if response.status_code < 400:
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])
        try:
            error = json.loads(body)
        except ValueError:
            return Response(body, status_code=response.status_code, media_type=response.media_type)
        return JSONResponse(one_line(error) if isinstance(error, dict) else error, status_code=response.status_code)

    return app


def serve(model_uri: str, host: str, port: int) -> None:
    """Serve until interrupted (one process; uvicorn from this environment, not from PATH)."""
    import uvicorn

    uvicorn.run(serving_app(model_uri), host=host, port=port, log_level="warning", access_log=False)
