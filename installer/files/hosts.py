"""The installer's marked block in a server's hosts file; pure functions over bytes, no file I/O.

Each cluster owns one block::

    # BEGIN wso2-cluster-installer wso2.esb.domain
    192.0.2.206 carbondb.mysql-wso2.com
    192.0.2.206 elb.wso2.com
    # END wso2-cluster-installer wso2.esb.domain

Lines outside the block belong to the operator (or to other clusters' blocks) and are never
changed. glibc's ``files`` backend reads every line naming a host, so a line elsewhere in the file
that maps one of our names to another address makes the answer ambiguous; ``shadowing_lines``
finds those so the caller can refuse.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from installer.errors import ConfigFileError

MARKER_OWNER = "wso2-cluster-installer"
# Only used in messages; the caller passes the real path.
DEFAULT_PATH = "hosts file"

_PHYSICAL_LINE = re.compile(r"[^\n]*\n|[^\n]+")

_ENCODING = "utf-8"
# Hosts files are ASCII in practice; odd bytes in an operator's comment must still survive.
_ENCODING_ERRORS = "surrogateescape"


@dataclass(frozen=True)
class Shadow:
    """A line outside our block that maps one of our host names to another address."""

    line_number: int
    hostname: str
    address: str

    def __str__(self) -> str:
        return f"line {self.line_number} maps {self.hostname} to {self.address}"


@dataclass(frozen=True)
class _BlockSpan:
    """Indexes into the file's lines: ``begin`` is the BEGIN marker, ``end`` the END marker."""

    begin: int
    end: int


def begin_marker(cluster_id: str) -> str:
    return f"# BEGIN {MARKER_OWNER} {cluster_id}"


def end_marker(cluster_id: str) -> str:
    return f"# END {MARKER_OWNER} {cluster_id}"


def render_hosts(
    original: bytes, cluster_id: str, entries: Sequence[tuple[str, str]], *, path: str = DEFAULT_PATH
) -> bytes:
    """``original`` with the cluster's block holding exactly ``entries``, one ``address hostname`` line each.

    The block is replaced where it stands, or appended at the end of the file (after adding the
    missing end-of-line to the last line, if any). Empty ``entries`` remove the block. Bytes outside
    the block are kept as they are; when nothing would change, ``original`` itself is returned.

    Raises ConfigFileError when the file's markers for this cluster are broken or a line outside
    the block is not a hosts-file line (``address name [names...]``), ValueError when ``cluster_id`` or an
    entry cannot be written as one hosts-file field.
    """
    _check_field(cluster_id, "cluster id")
    _check_entries(entries)

    lines = _split_lines(_decode(original))
    span = _find_block(lines, cluster_id, path)
    _check_lines(lines, span, path)
    end_of_line = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    block = _block_lines(cluster_id, entries, end_of_line) if entries else []

    if span is None:
        if not block:
            return original
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += end_of_line
        lines += block
    else:
        if lines[span.begin : span.end + 1] == block:
            return original
        lines[span.begin : span.end + 1] = block
    return _encode("".join(lines))


def read_block(data: bytes, cluster_id: str, *, path: str = DEFAULT_PATH) -> list[tuple[str, str]] | None:
    """The ``(address, hostname)`` pairs in the cluster's block (aliases give one pair each), or None if absent."""
    lines = _split_lines(_decode(data))
    span = _find_block(lines, cluster_id, path)
    if span is None:
        return None
    pairs: list[tuple[str, str]] = []
    for line in lines[span.begin + 1 : span.end]:
        fields = _fields(line)
        if fields:
            address, *hostnames = fields
            pairs += [(address, hostname) for hostname in hostnames]
    return pairs


def resolve(data: bytes, hostname: str) -> str | None:
    """The address glibc's ``files`` backend gives first for ``hostname``: that of the first line naming it.

    This is ``gethostbyname``'s first address. Names compare case-insensitively, canonical name
    and aliases alike; comments, and lines whose address does not parse, are skipped. IPv4 and
    IPv6 lines are not told apart. When several lines name the host, ``getaddrinfo`` may order
    their addresses differently (see ``shadowing_lines``).
    """
    wanted = hostname.casefold()
    for _number, address, hostnames in _mappings(_split_lines(_decode(data))):
        if wanted in hostnames:
            return address
    return None


def shadowing_lines(
    data: bytes, cluster_id: str, entries: Sequence[tuple[str, str]], *, path: str = DEFAULT_PATH
) -> list[Shadow]:
    """Lines outside the cluster's block that map one of ``entries``' names to another address.

    Every such line counts, above the block or below it: glibc's ``files`` backend gathers the
    addresses of all lines naming the host. ``gethostbyname`` answers the first line's (a line
    above our block wins outright), and ``getaddrinfo`` (what Java and most servers call) sorts
    them by RFC 6724, which can put a line below our block first (seen with glibc 2.36). Either
    way the name no longer has one answer, so the caller should refuse and name these lines.
    """
    _check_entries(entries)
    lines = _split_lines(_decode(data))
    span = _find_block(lines, cluster_id, path)
    ours = range(span.begin, span.end + 1) if span is not None else range(0)
    wanted: dict[str, tuple[str, str]] = {}
    for address, hostname in entries:
        # Within our own block the first entry for a name is the one a lookup sees first.
        wanted.setdefault(hostname.casefold(), (hostname, address))
    shadows: list[Shadow] = []
    for number, address, hostnames in _mappings(lines):
        if number - 1 in ours:
            continue
        for name in sorted(hostnames & wanted.keys()):
            hostname, our_address = wanted[name]
            if not _same_address(our_address, address):
                shadows.append(Shadow(line_number=number, hostname=hostname, address=address))
    return shadows


def _check_lines(lines: Sequence[str], span: _BlockSpan | None, path: str) -> None:
    """Refuse a file that does not read as a hosts file, naming its first bad line.

    Every line outside the cluster's block that is neither blank nor a comment must be
    ``address name [names...]`` with an IPv4 or IPv6 address. glibc would just skip any other line,
    but one means the plan's ``hosts_file`` names the wrong file (a passwd file, the plan itself):
    appending our block to it would do nothing useful and spoil that file.
    """
    for index, line in enumerate(lines):
        if span is not None and span.begin <= index <= span.end:
            continue  # our own lines: replaced whatever they hold
        fields = _fields(line)
        if not fields:
            continue
        if not _is_address(fields[0]):
            problem = "does not start with an IPv4 or IPv6 address"
        elif len(fields) < 2:
            problem = "has an address but no host name"
        else:
            continue
        # The line's text is not shown: a file named by mistake may hold anything.
        raise ConfigFileError(
            f"{path}, line {index + 1}: not a hosts-file line (it {problem}); "
            "this does not look like a hosts file",
            "Check hosts_file in the plan (normally /etc/hosts). If it is the right file, make that "
            "line 'address name [names...]', or comment it out with '#'.",
        )


def _check_entries(entries: Sequence[tuple[str, str]]) -> None:
    for address, hostname in entries:
        _check_field(address, "address")
        _check_field(hostname, "host name")
        if not _is_address(address):
            raise ValueError(f"{address!r} is not an IP address; glibc would skip its line")


def _block_lines(cluster_id: str, entries: Sequence[tuple[str, str]], end_of_line: str) -> list[str]:
    return [
        begin_marker(cluster_id) + end_of_line,
        *(f"{address} {hostname}{end_of_line}" for address, hostname in entries),
        end_marker(cluster_id) + end_of_line,
    ]


def _find_block(lines: Sequence[str], cluster_id: str, path: str) -> _BlockSpan | None:
    begin_text, end_text = begin_marker(cluster_id), end_marker(cluster_id)
    first_begin: int | None = None
    open_begin: int | None = None
    span: _BlockSpan | None = None
    for index, line in enumerate(lines):
        text = line.strip()
        if text == begin_text:
            if first_begin is not None:
                raise _marker_error(
                    path,
                    index,
                    f"a second '{begin_text}' (the first is on line {first_begin + 1})",
                    "Keep one block for the cluster: remove the other BEGIN/END pair and its lines.",
                )
            first_begin = open_begin = index
        elif text == end_text:
            if open_begin is None:
                raise _marker_error(
                    path,
                    index,
                    f"'{end_text}' without a BEGIN line before it",
                    f"Add '{begin_text}' above the block's lines, or remove this END line.",
                )
            span = _BlockSpan(begin=open_begin, end=index)
            open_begin = None
    if open_begin is not None:
        raise _marker_error(
            path,
            open_begin,
            f"'{begin_text}' has no matching END line",
            f"Add '{end_text}' after the block's lines, or remove this BEGIN line.",
        )
    return span


def _marker_error(path: str, index: int, problem: str, hint: str) -> ConfigFileError:
    return ConfigFileError(f"{path}, line {index + 1}: {problem}", hint)


def _mappings(lines: Sequence[str]) -> Iterator[tuple[int, str, set[str]]]:
    """``(line number, address, casefolded names)`` for every line that maps an address to names."""
    for index, line in enumerate(lines):
        fields = _fields(line)
        # glibc skips a line whose address does not parse; so must we.
        if len(fields) >= 2 and _is_address(fields[0]):
            address, *hostnames = fields
            yield index + 1, address, {hostname.casefold() for hostname in hostnames}


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _same_address(first: str, second: str) -> bool:
    # "::1" and "0:0::1" are one address; both sides are known to parse.
    return ipaddress.ip_address(first) == ipaddress.ip_address(second)


def _fields(line: str) -> list[str]:
    return line.split("#", 1)[0].split()


def _split_lines(text: str) -> list[str]:
    """Lines with their end-of-line kept, so that joining them gives ``text`` back.

    Only a line feed ends a line, as for glibc; a carriage return before it stays part of the line.
    """
    return _PHYSICAL_LINE.findall(text)


def _check_field(value: str, what: str) -> None:
    if not value or "#" in value or any(char.isspace() for char in value):
        raise ValueError(f"{what} {value!r} cannot be written as one hosts-file field")


def _decode(data: bytes) -> str:
    return data.decode(_ENCODING, _ENCODING_ERRORS)


def _encode(text: str) -> bytes:
    return text.encode(_ENCODING, _ENCODING_ERRORS)
