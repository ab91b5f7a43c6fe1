"""Serve stage: the version a registry alias points at when the server starts, over HTTP.

A rollback or promotion moves the alias, not a running server: restart it to serve the new version.
"""
from __future__ import annotations

from typing import Callable

from pipeline.errors import UsageError
from pipeline.problems import PROBLEMS, get_problem
from pipeline.settings import JobSettings
from tracking.names import model_name
from tracking.registry import Registry, version_uri
from tracking.serving import serve as run_server


def serve(problem: str, settings: JobSettings, alias: str, host: str, port: int,
          echo: Callable[[str], None] = print) -> None:
    if problem not in PROBLEMS:
        get_problem(problem)  # unknown problem -> the error that lists the known ones
    tracker = settings.tracker()
    name = model_name(problem)
    version = Registry(tracker).alias(name, alias)
    if version is None:
        raise UsageError(f"no model '{name}' with alias '{alias}' in {tracker.uri}; "
                         f"run `make report PROBLEM={problem}` first")
    echo(f"serving {name} v{version.version} ('{alias}' when started; restart to follow the alias) at "
         f"http://{host}:{port}/invocations")
    run_server(version_uri(name, version.version), host, port)
