"""The one way the stand-in fails: an ERROR line with a Java-style stack trace, then exit."""

from __future__ import annotations

from collections.abc import Sequence


class StartupFailure(Exception):
    """Something Carbon reports as an ERROR (with an exception and its stack) before it gives up.

    ``logger`` is the fully-qualified logger name, ``message`` the text of the ERROR line and
    ``exception`` the lines log4j prints under it (``java.lang.Foo: text``, ``\\tat ...``,
    ``Caused by: ...``).
    """

    def __init__(self, logger: str, message: str, exception: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.logger = logger
        self.message = message
        self.exception = tuple(exception)


def java_exception(kind: str, text: str, frames: Sequence[str] = (), *,
                   caused_by: Sequence[str] = ()) -> list[str]:
    """The lines of a Java stack trace: ``kind: text``, ``\\tat frame`` lines, then a cause.

    ``caused_by`` is another trace (as returned by this function); its first line gets the
    ``Caused by: `` prefix, as the JVM prints it.
    """
    lines = [f"{kind}: {text}" if text else kind]
    lines += [f"\tat {frame}" for frame in frames]
    if caused_by:
        lines.append(f"Caused by: {caused_by[0]}")
        lines += list(caused_by[1:])
    return lines
