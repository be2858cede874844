"""Carbon's two log outputs, with the layouts the ESB 4.7.0 / ELB 2.0.x log4j.properties configure.

Console (stdout), ``[%d{ISO8601}] %5p - %c{1} %m%n``::

    [2013-06-28 10:30:00,123]  INFO - TribesClusteringAgent Initializing cluster...

``repository/logs/wso2carbon.log``, ``TID: [%T] [%S] [%d] %P%5p {%c} - %x %m {%c}%n`` (tenant 0,
the server key, no tenant prefix, an empty NDC: hence two spaces after the dash)::

    TID: [0] [ESB] [2013-06-28 10:30:00,123]  INFO {org.apache.axis2.clustering.tribes.TribesClusteringAgent} -  Initializing cluster... {org.apache.axis2.clustering.tribes.TribesClusteringAgent}

An exception's lines follow its ERROR line in both, as log4j prints them. Every line is flushed
at once: the installer follows both outputs while the node starts.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

CARBON_LOG = "repository/logs/wso2carbon.log"
SUPER_TENANT_ID = 0


def iso8601_now() -> str:
    """log4j's ISO8601 date format: ``yyyy-MM-dd HH:mm:ss,SSS`` in local time."""
    now = datetime.now()
    return now.strftime("%Y-%m-%d %H:%M:%S,") + f"{now.microsecond // 1000:03d}"


class CarbonLog:
    """Writes each message to the console and to wso2carbon.log; safe to use from any thread."""

    def __init__(self, carbon_home: Path, *, console: TextIO | None = None) -> None:
        self.server_key = ""
        self._console = console if console is not None else sys.stdout
        self._lock = threading.Lock()
        path = carbon_home / CARBON_LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        # Appended to, as log4j's DailyRollingFileAppender with Append=true does.
        self._file = open(path, "a", encoding="utf-8")  # kept open for the process's life

    def info(self, logger: str, message: str) -> None:
        self.write("INFO", logger, message)

    def warn(self, logger: str, message: str, exception: Sequence[str] = ()) -> None:
        self.write("WARN", logger, message, exception)

    def error(self, logger: str, message: str, exception: Sequence[str] = ()) -> None:
        self.write("ERROR", logger, message, exception)

    def write(self, level: str, logger: str, message: str, exception: Sequence[str] = ()) -> None:
        timestamp = iso8601_now()
        short_name = logger.rsplit(".", 1)[-1]
        trace = "".join(f"{line}\n" for line in exception)
        console_line = f"[{timestamp}] {level:>5} - {short_name} {message}\n{trace}"
        file_line = (f"TID: [{SUPER_TENANT_ID}] [{self.server_key}] [{timestamp}] {level:>5} {{{logger}}} -  "
                     f"{message} {{{logger}}}\n{trace}")
        with self._lock:
            try:
                self._console.write(console_line)
                self._console.flush()
            except (OSError, ValueError):
                pass  # the console went away (closed pipe): the file log still gets the line
            if not self._file.closed:
                self._file.write(file_line)
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
