"""The per-server state file: which steps are done and what we wrote, saved atomically.

It lives in ``<install_dir>/.wso2-cluster/state-<server>.json`` and holds no secrets: step
status, timestamps, the plan's fingerprint and the fingerprints (sha256) of files we wrote.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from installer.atomic import atomic_write_text
from installer.errors import CHOOSE_SERVER, Remedy, StateError

STATE_FORMAT = 1
STATE_FOLDER = ".wso2-cluster"


def state_folder(install_dir: Path) -> Path:
    return Path(install_dir) / STATE_FOLDER


def state_path(install_dir: Path, server: str) -> Path:
    return state_folder(install_dir) / f"state-{server}.json"


def log_path(install_dir: Path, server: str) -> Path:
    return state_folder(install_dir) / f"installer-{server}.log"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class State:
    path: Path
    server: str
    plan_fingerprint: str | None = None
    plan_path: str | None = None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: str = field(default_factory=_now)

    @classmethod
    def load(cls, path: Path, server: str) -> State:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path=Path(path), server=server)
        except (OSError, ValueError) as error:
            raise StateError(f"the state file {path} cannot be read: {error}",
                             "restore it from a backup, or move it away to start over (every step is re-checked)") from error
        if not isinstance(raw, dict) or raw.get("format") != STATE_FORMAT:
            raise StateError(f"the state file {path} is not in a format this installer knows",
                             "move it away to start over (every step is re-checked against the files)")
        if raw.get("server") != server:
            raise StateError(f"the state file {path} belongs to server {raw.get('server')!r}, not {server!r}",
                             "check which server this machine is", remedy=Remedy(CHOOSE_SERVER))
        return cls(path=Path(path), server=server, plan_fingerprint=raw.get("plan_fingerprint"),
                   plan_path=raw.get("plan_path"), steps=dict(raw.get("steps", {})),
                   created=raw.get("created", _now()))

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def save(self) -> None:
        document = {
            "format": STATE_FORMAT,
            "server": self.server,
            "plan_path": self.plan_path,
            "plan_fingerprint": self.plan_fingerprint,
            "created": self.created,
            "updated": _now(),
            "steps": self.steps,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(document, indent=2, sort_keys=True) + "\n", mode=0o600)

    # --- step records ----------------------------------------------------------------------------

    def step(self, name: str) -> dict[str, Any]:
        return self.steps.setdefault(name, {})

    def step_status(self, name: str) -> str | None:
        return self.steps.get(name, {}).get("status")

    def mark(self, name: str, status: str, message: str = "") -> None:
        record = self.step(name)
        record["status"] = status
        record["message"] = message
        record["updated"] = _now()

    def file_fingerprint(self, step: str, path: Path) -> str | None:
        return self.steps.get(step, {}).get("files", {}).get(str(path))

    def record_file(self, step: str, path: Path, fingerprint: str) -> None:
        self.step(step).setdefault("files", {})[str(path)] = fingerprint

    def forget_file(self, step: str, path: Path) -> None:
        self.step(step).get("files", {}).pop(str(path), None)
