"""Scheduling a retune: a crontab line or a systemd service + timer, printed for the user to install."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

from pipeline.errors import UsageError

EVERY = {"hourly": ("0 * * * *", "hourly"), "daily": ("0 3 * * *", "*-*-* 03:00:00"),
         "weekly": ("0 3 * * 1", "Mon *-*-* 03:00:00")}
CRON = re.compile(r"^(\S+\s+){4}\S+$")


def schedule(problem: str, every: str, project_dir: Path, data: str | None = None) -> str:
    """Crontab line and systemd units running `make retune` for the problem at the given interval."""
    every = every.strip()
    if every in EVERY:
        cron, calendar = EVERY[every]
    elif CRON.match(every):
        cron, calendar = every, None
    else:
        raise UsageError(f"--every must be one of {', '.join(EVERY)} or a 5-field cron expression "
                         f"like '30 2 * * *' (got {every!r})")
    project = shlex.quote(str(project_dir.resolve()))
    args = f"PROBLEM={shlex.quote(problem)}" + (f" DATA={shlex.quote(data)}" if data else "")
    command = f"cd {project} && make retune {args} >> runs/retune-{problem}.log 2>&1"
    lines = ["# crontab (install with `crontab -e`, paste this line):", f"{cron} {command}", ""]
    if calendar is None:
        lines.append("# systemd: convert the cron expression to OnCalendar= yourself (man systemd.time)")
        calendar = "<OnCalendar expression>"
    lines += [
        f"# systemd: ~/.config/systemd/user/lstm-retune-{problem}.service",
        "[Unit]", f"Description=lstm-tune retune of {problem}", "",
        "[Service]", "Type=oneshot", f"WorkingDirectory={project_dir.resolve()}",
        f"ExecStart=/usr/bin/env make retune {args}", "",
        f"# systemd: ~/.config/systemd/user/lstm-retune-{problem}.timer",
        "[Unit]", f"Description=Scheduled retune of {problem}", "",
        "[Timer]", f"OnCalendar={calendar}", "Persistent=true", "",
        "[Install]", "WantedBy=timers.target", "",
        f"# enable: systemctl --user daemon-reload && systemctl --user enable --now lstm-retune-{problem}.timer",
    ]
    return "\n".join(lines)
