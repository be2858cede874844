"""What each node must print when it starts, and the failures that end a wait early.

The data lives in ``assets/expectations.yaml``; this module loads and validates it, fills its
``{placeholders}`` with one node's values, parses log lines of either Carbon layout, and watches
followed logs (``installer.logwatch``) until every milestone is reached, one times out, or a
failure signature ends the wait.

Line layouts understood by ``parse_line`` (SOURCES.md A of the carbon-configs corpus):

* console, ``[%d{ISO8601}] %5p - %c{1} %m%n``: ``[2013-08-20 12:27:08,123]  INFO - TribesClusteringAgent Cluster domain: wso2.esb.domain``
* the seed's excerpts, the same without the date: ``INFO - TribesClusteringAgent Cluster domain: ...``
* ``repository/logs/wso2carbon.log``, ``TID: [%T] [%S] [%d] %P%5p {%c} - %x %m {%c}%n``:
  ``TID: [0] [ESB] [2013-08-20 12:27:08,123]  INFO {org.apache...TribesClusteringAgent} -  Cluster domain: ... {org.apache...TribesClusteringAgent}``
* any other line (stack traces, ``Caused by: ...``, JVM messages) has no level or logger: its
  whole text is the message, so failure signatures still see it.

The YAML schema (``version: 1``)::

    milestones:                       # per role: elb, manager, worker; in the order they appear
      <role>:
        - id: str                     # unique in the role once filled; may use placeholders
          label: str                  # for people; placeholders filled with the raw values
          pattern: str                # Python regex searched in the message; {name} -> re.escape(value)
          timeout: number             # seconds from the node's start
          logger: str                 # optional: the short logger name the line must come from
          required: bool              # optional, default true; false: shown when seen, never awaited
          for_each: wka_members       # optional: one milestone per item, the item's keys as placeholders
    cross_node:                       # lines one node prints about another
      - {id, label, pattern, timeout, logger?, required?,
         observer: elb | manager,     # whose log shows it
         for_each: workers | managers}
    port_settings: {<value key>: str} # what each port value is (names the setting behind a busy port)
    failures:                         # searched in order, first match wins
      - name: str
        kind: fatal | stall | report  # ends the wait / ends it at the stall_after-th time / only shown
        stall_after: int              # stall only, >= 2
        level: str                    # optional: only lines logged at this level (ERROR)
        pattern: str                  # may use node placeholders (then only checked for that node)
        setting: str                  # the setting most likely wrong
        hint: str                     # what to do; may use named groups, node values, {port_setting},
                                      # {port_clause} and {occurrences}

Values the caller passes (the layout's derived values; this module knows nothing of plans).
Ports may be given as int or str; every value is ``re.escape``'d before it enters a pattern.

Per node, ``expectations_for(role, values)`` and ``failure_catalog(values)``:

* ``domain``: the clustering domain of the node's axis2.xml (the ELB's own domain for the ELB)
* ``member_host``: the IP address the node's clustering port binds to (Tribes prints addresses)
* ``member_port``: its localMemberPort
* ``offset``: its port offset; ``servlet_http_port``, ``servlet_https_port`` (9763/9443 + offset),
  ``transport_http_port``, ``transport_https_port`` (ESB: 8280/8243 + offset; ELB: its HTTP(S) ports)
* ``wka_members``: a list of ``{"wka_host": address, "wka_port": member port}``, the node's
  well-known members, addresses as this node's server resolves their host names

Cluster-wide, ``cross_node_expectations(values)``:

* ``domain``: the ESB cluster domain; ``elb_node``, ``manager_node``: the node names whose logs
  show the joins and the initialization requests
* ``workers``, ``managers``: lists of ``{"member_node": name, "member_host": address,
  "member_port": localMemberPort}``
"""

from __future__ import annotations

import enum
import functools
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import yaml

from installer.errors import InstallerError
from installer.logwatch import (
    POLL_INTERVAL_SECONDS,
    ChangeWaiter,
    LineFilter,
    LogFollower,
    LogLine,
    best_requirement,
    required_literals,
)

DEFAULT_EXPECTATIONS_FILE = Path(__file__).resolve().parent.parent / "assets" / "expectations.yaml"
ROLES = ("elb", "manager", "worker")
FAILURE_KINDS = ("fatal", "stall", "report")

# The keys each kind of entry may use as placeholders (see the module docstring).
NODE_KEYS = frozenset({
    "node", "domain", "sub_domain", "member_host", "member_port", "offset", "servlet_http_port",
    "servlet_https_port", "transport_http_port", "transport_https_port",
})
NODE_LISTS = {"wka_members": frozenset({"wka_host", "wka_port"})}
CLUSTER_KEYS = frozenset({"domain", "elb_node", "manager_node"})
CLUSTER_LISTS = {
    "workers": frozenset({"member_node", "member_host", "member_port"}),
    "managers": frozenset({"member_node", "member_host", "member_port"}),
}
HINT_EXTRA_KEYS = frozenset({"port_setting", "port_clause", "occurrences"})

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MILESTONE_KEYS = frozenset({"id", "label", "pattern", "timeout", "logger", "required", "for_each"})
_CROSS_KEYS = _MILESTONE_KEYS | {"observer"}
_FAILURE_KEYS = frozenset({"name", "kind", "stall_after", "level", "pattern", "setting", "hint"})

NodeValues = Mapping[str, object]


class ExpectationsError(InstallerError):
    """The expectations file is invalid, or a caller's values do not fill it."""

    title = "Log expectations problem"


# --- log lines -------------------------------------------------------------------------------------

_LINE = re.compile(
    r"^(?:TID:\s*)?(?:\[[^\]]*\]\s*)*"  # wso2carbon.log's [tenant] [server], then [date] (console too)
    r"(?P<level>TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\s+"
    r"(?:\{(?P<qualified>[^}\s]+)\}\s+-|-\s+(?P<short>\S+))"  # {fully.qualified} - | - ShortName
    r"(?P<message>.*)$"
)


class ParsedLine(NamedTuple):
    """A NamedTuple, not a dataclass: one is made for every line followed."""

    level: str | None
    logger: str | None  # as printed: short (console) or fully qualified (wso2carbon.log)
    message: str

    @property
    def short_logger(self) -> str | None:
        return None if self.logger is None else self.logger.rsplit(".", 1)[-1]


def parse_line(text: str) -> ParsedLine:
    """Level, logger and message of a line in either layout; other lines are all message."""
    found = _LINE.match(text)
    if found is None:
        return ParsedLine(None, None, text.strip())
    level, qualified, short, message = found.group("level", "qualified", "short", "message")
    if qualified is None:
        return ParsedLine(level, short, message.strip())
    message = message.rstrip()
    if message.endswith("}") and message.endswith(" {" + qualified + "}"):
        message = message[: -len(qualified) - 3]  # the file layout repeats the logger at the end
    return ParsedLine(level, qualified, message.strip())


# --- milestones and failures ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Milestone:
    """A line a node must print: filled for one node, ready to match."""

    id: str
    label: str
    pattern: re.Pattern[str]
    timeout: float
    logger: str | None = None
    required: bool = True
    observer: str | None = None  # cross-node: the node whose log shows it
    subject: str | None = None  # cross-node: the node it is about (its start starts the clock)

    def matches(self, line: ParsedLine) -> bool:
        if self.logger is not None and line.short_logger != self.logger:
            return False
        return self.pattern.search(line.message) is not None

    @property
    def requirement(self) -> frozenset[str] | None:
        """Strings one of which every line this milestone matches contains (None: any line may
        match): the logger's name, or a literal part of the pattern. See ``LineFilter``."""
        return _line_requirement(self.pattern, self.logger)


@dataclass(frozen=True)
class FailureSignature:
    name: str
    kind: str  # fatal | stall | report
    pattern: re.Pattern[str]
    setting: str
    hint: str  # a template: see render_hint
    stall_after: int = 1
    level: str | None = None

    def search(self, line: ParsedLine) -> re.Match[str] | None:
        if self.level is not None and line.level != self.level:
            return None
        return self.pattern.search(line.message)

    @property
    def requirement(self) -> frozenset[str] | None:
        """Strings one of which every line this signature matches contains (None: any line may):
        the level it requires, or a literal part of the pattern. See ``LineFilter``."""
        return _line_requirement(self.pattern, self.level)

    def render_hint(self, details: Mapping[str, str], occurrences: int = 1) -> str:
        return _fill_lenient(self.hint, {**details, "occurrences": str(occurrences)})


@functools.lru_cache(maxsize=1024)
def _line_requirement(pattern: re.Pattern[str], printed: str | None) -> frozenset[str] | None:
    """``printed``: a logger or level the line must show; ``parse_line`` takes both from the
    line's text, and a message is part of the text too, so each is in every matching line."""
    return best_requirement(frozenset({printed}) if printed else None, required_literals(pattern))


@dataclass(frozen=True)
class FailureMatch:
    signature: FailureSignature
    line: str
    setting: str  # the signature's, or the exact setting when the line names a known port
    hint: str
    details: Mapping[str, str] = field(default_factory=dict)  # node values + named groups

    @property
    def ends_wait(self) -> bool:
        """Whether this one line ends a wait (a stall ends it only after repeats)."""
        return self.signature.kind == "fatal"


class FailureCatalog:
    """The failure signatures filled for one node (or for none: node-specific ones left out)."""

    def __init__(
        self, signatures: Sequence[FailureSignature], port_settings: Mapping[str, str],
        values: Mapping[str, str],
    ) -> None:
        self.signatures = tuple(signatures)
        self._port_settings = dict(port_settings)
        self._values = dict(values)

    @property
    def requirements(self) -> list[frozenset[str] | None]:
        """What each signature requires of a line (see ``FailureSignature.requirement``)."""
        return [signature.requirement for signature in self.signatures]

    def match(self, line: str | ParsedLine) -> FailureMatch | None:
        parsed = parse_line(line) if isinstance(line, str) else line
        for signature in self.signatures:
            found = signature.search(parsed)
            if found is None:
                continue
            details = dict(self._values)
            details.update({key: value for key, value in found.groupdict().items() if value is not None})
            setting = signature.setting
            port = found.groupdict().get("port")
            details["port_setting"] = ""
            details["port_clause"] = f" (port {port})" if port else ""
            if port:
                named = self._name_port(port)
                if named:
                    setting = named
                    details["port_setting"] = named
                    details["port_clause"] = f" (port {port}: {named})"
            occurrences = signature.stall_after if signature.kind == "stall" else 1
            hint = " ".join(signature.render_hint(details, occurrences).split())
            return FailureMatch(signature, line if isinstance(line, str) else parsed.message, setting, hint, details)
        return None

    def _name_port(self, port: str) -> str | None:
        for key, label in self._port_settings.items():
            if self._values.get(key) == port:
                return _fill_lenient(label, self._values)
        return None


# --- loading ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _MilestoneTemplate:
    where: str  # "milestones.worker[2] (id 'join_sent')", for error messages
    id: str
    label: str
    pattern: str
    timeout: float
    logger: str | None
    required: bool
    for_each: str | None
    observer: str | None = None


@dataclass(frozen=True)
class _FailureTemplate:
    where: str
    name: str
    kind: str
    pattern: str
    setting: str
    hint: str
    stall_after: int
    level: str | None


class Expectations:
    """The loaded, validated expectations file."""

    def __init__(
        self,
        source: str,
        milestones: Mapping[str, Sequence[_MilestoneTemplate]],
        cross_node: Sequence[_MilestoneTemplate],
        failures: Sequence[_FailureTemplate],
        port_settings: Mapping[str, str],
    ) -> None:
        self.source = source
        self._milestones = {role: tuple(entries) for role, entries in milestones.items()}
        self._cross_node = tuple(cross_node)
        self._failures = tuple(failures)
        self.port_settings = dict(port_settings)
        self._valueless_catalog: FailureCatalog | None = None

    @classmethod
    def load(cls, path: str | Path | None = None) -> Expectations:
        path = Path(path) if path is not None else DEFAULT_EXPECTATIONS_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ExpectationsError(
                f"{path}: cannot be read ({error.strerror or error})",
                "The installer's assets folder is incomplete: reinstall the installer.",
            ) from error
        return cls.from_text(text, str(path))

    @classmethod
    def from_text(cls, text: str, source: str = "<expectations>") -> Expectations:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ExpectationsError(f"{source}: not valid YAML: {error}", _FIX_HINT) from error
        return _Validator(source).document(document)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self._milestones)

    def milestones_for(self, role: str, values: NodeValues) -> list[Milestone]:
        if role not in self._milestones:
            raise ExpectationsError(f"no milestones for role {role!r} in {self.source}",
                                    f"Roles known: {', '.join(self._milestones)}.")
        node = str(values.get("node", role))
        milestones: list[Milestone] = []
        for template in self._milestones[role]:
            milestones.extend(_expand(template, values, f"node {node}"))
        _check_unique(milestones, f"role {role}")
        return milestones

    def cross_node(self, values: NodeValues) -> list[Milestone]:
        milestones: list[Milestone] = []
        for template in self._cross_node:
            assert template.observer is not None
            observer_key = f"{template.observer}_node"
            if observer_key not in values:
                raise ExpectationsError(
                    f"{template.where} needs the value {observer_key!r}, the name of the {template.observer} node",
                    "Pass every key listed in installer/expectations.py for cross-node expectations.",
                )
            milestones.extend(_expand(template, values, "the cluster", observer=str(values[observer_key])))
        _check_unique(milestones, "cross-node expectations")
        return milestones

    def failure_catalog(self, values: NodeValues | None = None) -> FailureCatalog:
        """The signatures filled with one node's values; without values, the node-specific ones
        (those with placeholders) are left out."""
        if values is None and self._valueless_catalog is not None:
            return self._valueless_catalog
        scalars = _scalars(values or {})
        signatures = []
        for template in self._failures:
            missing = set(_PLACEHOLDER.findall(template.pattern)) - scalars.keys()
            if missing:
                if values is None:
                    continue
                raise ExpectationsError(f"{template.where} needs the node values {sorted(missing)}", _VALUES_HINT)
            signatures.append(FailureSignature(
                name=template.name, kind=template.kind,
                pattern=re.compile(_fill(template.pattern, scalars, escape=True)),
                setting=template.setting, hint=template.hint,
                stall_after=template.stall_after, level=template.level,
            ))
        catalog = FailureCatalog(signatures, self.port_settings, scalars)
        if values is None:
            self._valueless_catalog = catalog
        return catalog


_FIX_HINT = "Fix the expectations file (its schema is described in installer/expectations.py)."
_VALUES_HINT = "Pass every key listed in installer/expectations.py for this role."


def _scalars(values: NodeValues) -> dict[str, str]:
    return {key: str(value) for key, value in values.items() if isinstance(value, str | int)}


def _fill(template: str, values: Mapping[str, str], *, escape: bool) -> str:
    """Replaces every {name}; a missing value raises KeyError(name)."""
    def replace(found: re.Match[str]) -> str:
        value = values[found.group(1)]
        return re.escape(value) if escape else value
    return _PLACEHOLDER.sub(replace, template)


def _fill_lenient(template: str, values: Mapping[str, str]) -> str:
    """Replaces the {name}s that have a value and leaves the others as they are."""
    return _PLACEHOLDER.sub(lambda found: values.get(found.group(1), found.group(0)), template)


def _expand(
    template: _MilestoneTemplate, values: NodeValues, whose: str, *, observer: str | None = None,
) -> list[Milestone]:
    scalars = _scalars(values)
    if template.for_each is None:
        items: list[Mapping[str, str]] = [{}]
    else:
        listed = values.get(template.for_each)
        if listed is None:
            raise ExpectationsError(f"{template.where}: {whose} has no value {template.for_each!r}", _VALUES_HINT)
        if isinstance(listed, str | bytes) or not isinstance(listed, Iterable):
            raise ExpectationsError(
                f"{template.where}: {template.for_each!r} of {whose} must be a list of mappings", _VALUES_HINT)
        items = []
        for item in listed:
            if not isinstance(item, Mapping):
                raise ExpectationsError(
                    f"{template.where}: every item of {template.for_each!r} must be a mapping, not {item!r}",
                    _VALUES_HINT)
            items.append(_scalars(item))
    milestones = []
    for item in items:
        filled = {**scalars, **item}
        try:
            milestones.append(Milestone(
                id=_fill(template.id, filled, escape=False),
                label=_fill(template.label, filled, escape=False),
                pattern=re.compile(_fill(template.pattern, filled, escape=True)),
                timeout=template.timeout,
                logger=template.logger,
                required=template.required,
                observer=observer,
                subject=item.get("member_node") if observer is not None else None,
            ))
        except KeyError as missing:
            raise ExpectationsError(
                f"{template.where}: {whose} has no value {missing.args[0]!r}", _VALUES_HINT) from None
    return milestones


def _check_unique(milestones: Sequence[Milestone], what: str) -> None:
    seen: set[tuple[str | None, str]] = set()
    for milestone in milestones:
        key = (milestone.observer, milestone.id)
        if key in seen:
            raise ExpectationsError(
                f"{what}: two milestones are both {milestone.id!r} once filled",
                "Two list items with the same values (for example a well-known member given twice)?",
            )
        seen.add(key)


class _Validator:
    """Turns the parsed YAML into templates, collecting every problem before raising."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def document(self, document: object) -> Expectations:
        if not isinstance(document, dict):
            raise ExpectationsError(f"{self.source}: the file must be a mapping with milestones, cross_node, "
                                    "port_settings and failures", _FIX_HINT)
        for key in document.keys() - {"version", "milestones", "cross_node", "port_settings", "failures"}:
            self.problem(str(key), "unknown key")
        if document.get("version") != 1:
            self.problem("version", f"must be 1, not {document.get('version')!r}")
        milestones: dict[str, list[_MilestoneTemplate]] = {}
        roles = document.get("milestones")
        if not isinstance(roles, dict):
            self.problem("milestones", "must map each role (elb, manager, worker) to a list")
            roles = {}
        for role in ROLES:
            if role not in roles:
                self.problem("milestones", f"role {role!r} is missing")
        for role, entries in roles.items():
            if role not in ROLES:
                self.problem(f"milestones.{role}", f"unknown role (known: {', '.join(ROLES)})")
                continue
            milestones[role] = self.milestone_list(f"milestones.{role}", entries, cross=False)
        cross = self.milestone_list("cross_node", document.get("cross_node", []), cross=True)
        port_settings = document.get("port_settings", {})
        if not isinstance(port_settings, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in port_settings.items()
        ):
            self.problem("port_settings", "must map value names to descriptions")
            port_settings = {}
        for key in port_settings:
            if key not in NODE_KEYS:
                self.problem(f"port_settings.{key}", f"not a node value (known: {', '.join(sorted(NODE_KEYS))})")
        failures = self.failure_list(document.get("failures"))
        if self.problems:
            listed = "\n".join(f"  {problem}" for problem in self.problems)
            raise ExpectationsError(f"{self.source} is not valid:\n{listed}", _FIX_HINT)
        return Expectations(self.source, milestones, cross, failures, port_settings)

    def milestone_list(self, where: str, entries: object, *, cross: bool) -> list[_MilestoneTemplate]:
        if not isinstance(entries, list):
            self.problem(where, "must be a list")
            return []
        templates = []
        ids: set[str] = set()
        for index, entry in enumerate(entries):
            template = self.milestone(f"{where}[{index}]", entry, cross=cross)
            if template is None:
                continue
            # Cross-node entries may share an id template (workers and managers): their items
            # differ, and ids are checked again once filled.
            if not cross and template.id in ids:
                self.problem(template.where, "duplicate id")
            ids.add(template.id)
            templates.append(template)
        return templates

    def milestone(self, where: str, entry: object, *, cross: bool) -> _MilestoneTemplate | None:
        if not isinstance(entry, dict):
            self.problem(where, "must be a mapping")
            return None
        if isinstance(entry.get("id"), str):
            where = f"{where} (id {entry['id']!r})"
        allowed = _CROSS_KEYS if cross else _MILESTONE_KEYS
        for key in entry.keys() - allowed:
            self.problem(where, f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
        id_ = self.text(where, entry, "id")
        label = self.text(where, entry, "label")
        pattern = self.text(where, entry, "pattern")
        timeout = entry.get("timeout")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            self.problem(where, f"'timeout' must be a positive number of seconds, not {timeout!r}")
        logger = self.optional_text(where, entry, "logger")
        required = entry.get("required", True)
        if not isinstance(required, bool):
            self.problem(where, f"'required' must be true or false, not {required!r}")
        lists = CLUSTER_LISTS if cross else NODE_LISTS
        scalar_keys = CLUSTER_KEYS if cross else NODE_KEYS
        for_each = entry.get("for_each")
        if cross and for_each is None:
            self.problem(where, f"'for_each' is required ({' or '.join(lists)})")
        if for_each is not None and for_each not in lists:
            self.problem(where, f"'for_each' must be one of {', '.join(lists)}, not {for_each!r}")
            for_each = None
        observer = entry.get("observer") if cross else None
        if cross and observer not in ("elb", "manager"):
            self.problem(where, f"'observer' must be elb or manager, not {observer!r}")
        known = scalar_keys | (lists[for_each] if for_each else frozenset())
        for key, text in (("id", id_), ("label", label), ("pattern", pattern)):
            if text is None:
                continue
            unknown = set(_PLACEHOLDER.findall(text)) - known
            if unknown:
                self.problem(where, f"{key!r} uses unknown placeholders {sorted(unknown)} "
                                    f"(known here: {', '.join(sorted(known))})")
            elif key == "pattern":
                self.compiles(where, text)
        if for_each and id_ is not None and not set(_PLACEHOLDER.findall(id_)) & lists[for_each]:
            self.problem(where, f"'id' must use a placeholder of the {for_each!r} items to stay unique")
        if None in (id_, label, pattern) or not isinstance(timeout, int | float) or isinstance(timeout, bool):
            return None
        assert id_ is not None and label is not None and pattern is not None
        return _MilestoneTemplate(where, id_, label, pattern, float(timeout), logger, bool(required),
                                  for_each, observer if isinstance(observer, str) else None)

    def failure_list(self, entries: object) -> list[_FailureTemplate]:
        if not isinstance(entries, list):
            self.problem("failures", "must be a list")
            return []
        templates = []
        names: set[str] = set()
        for index, entry in enumerate(entries):
            where = f"failures[{index}]"
            if not isinstance(entry, dict):
                self.problem(where, "must be a mapping")
                continue
            if isinstance(entry.get("name"), str):
                where = f"{where} (name {entry['name']!r})"
            for key in entry.keys() - _FAILURE_KEYS:
                self.problem(where, f"unknown key {key!r} (allowed: {', '.join(sorted(_FAILURE_KEYS))})")
            name = self.text(where, entry, "name")
            pattern = self.text(where, entry, "pattern")
            setting = entry.get("setting", "")
            if not isinstance(setting, str):
                self.problem(where, "'setting' must be text")
                setting = ""
            hint = self.text(where, entry, "hint")
            kind = entry.get("kind", "fatal")
            if kind not in FAILURE_KINDS:
                self.problem(where, f"'kind' must be one of {', '.join(FAILURE_KINDS)}, not {kind!r}")
            stall_after = entry.get("stall_after", 1)
            if kind == "stall" and (isinstance(stall_after, bool) or not isinstance(stall_after, int)
                                    or stall_after < 2):
                self.problem(where, f"a stall needs 'stall_after', a whole number >= 2, not {stall_after!r}")
            if kind != "stall" and "stall_after" in entry:
                self.problem(where, "'stall_after' only applies to kind: stall")
            level = self.optional_text(where, entry, "level")
            if name in names:
                self.problem(where, "duplicate name")
            if pattern is not None:
                unknown = set(_PLACEHOLDER.findall(pattern)) - NODE_KEYS
                if unknown:
                    self.problem(where, f"'pattern' uses unknown placeholders {sorted(unknown)}")
                else:
                    compiled = self.compiles(where, pattern)
                    if compiled is not None and hint is not None:
                        usable = NODE_KEYS | HINT_EXTRA_KEYS | set(compiled.groupindex)
                        unknown_in_hint = set(_PLACEHOLDER.findall(hint)) - usable
                        if unknown_in_hint:
                            self.problem(where, f"'hint' uses unknown placeholders {sorted(unknown_in_hint)}")
            if None in (name, pattern, hint) or kind not in FAILURE_KINDS:
                continue
            assert name is not None and pattern is not None and hint is not None
            names.add(name)
            templates.append(_FailureTemplate(where, name, kind, pattern, setting, hint,
                                              stall_after if kind == "stall" else 1, level))
        return templates

    def text(self, where: str, entry: Mapping[str, object], key: str) -> str | None:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            self.problem(where, f"{key!r} is missing or not text")
            return None
        return value

    def optional_text(self, where: str, entry: Mapping[str, object], key: str) -> str | None:
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            self.problem(where, f"{key!r} must be text")
            return None
        return value

    def compiles(self, where: str, pattern: str) -> re.Pattern[str] | None:
        # Placeholders become a harmless literal so that the rest of the regex can be checked.
        try:
            return re.compile(_PLACEHOLDER.sub("0", pattern))
        except re.error as error:
            self.problem(where, f"'pattern' is not a valid regular expression: {error}")
            return None


@functools.cache
def default_expectations() -> Expectations:
    """``assets/expectations.yaml``, loaded once."""
    return Expectations.load()


def expectations_for(role: str, values: NodeValues) -> list[Milestone]:
    """The milestones of ``role`` (elb, manager, worker) filled with one node's values."""
    return default_expectations().milestones_for(role, values)


def cross_node_expectations(values: NodeValues) -> list[Milestone]:
    """The lines the ELB and the manager print about each member (keys: see the module docstring)."""
    return default_expectations().cross_node(values)


def match_failure(line: str | ParsedLine, values: NodeValues | None = None) -> FailureMatch | None:
    """The first failure signature the line matches; ``values`` adds the node-specific ones and
    lets a port in the line be named (localMemberPort, servlet port ...)."""
    return default_expectations().failure_catalog(values).match(line)


# --- watching ------------------------------------------------------------------------------------------

class MilestoneState(enum.Enum):
    PENDING = "pending"
    REACHED = "reached"
    TIMED_OUT = "timed out"
    FAILED = "failed"  # the wait ended on a failure of this node before the line came


@dataclass(frozen=True)
class MilestoneReached:
    node: str
    milestone: Milestone
    line: LogLine


@dataclass(frozen=True)
class FailureSeen:
    node: str
    signature: FailureSignature
    line: LogLine
    hint: str
    setting: str
    occurrences: int = 1
    ends_wait: bool = False


@dataclass(frozen=True)
class MilestoneTimedOut:
    node: str
    milestone: Milestone


WatchEvent = MilestoneReached | FailureSeen | MilestoneTimedOut


@dataclass(frozen=True)
class MilestoneStatus:
    node: str
    milestone: Milestone
    state: MilestoneState
    line: LogLine | None = None
    failure: FailureSeen | None = None


COMPLETED = "completed"
FAILED = "failed"
TIMED_OUT = "timed out"
STOPPED = "stopped"


@dataclass(frozen=True)
class WatchResult:
    outcome: str  # completed | failed | timed out | stopped (or "" while still watching)
    milestones: tuple[MilestoneStatus, ...]
    failures: tuple[FailureSeen, ...]  # every failure seen, the reported ones too
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.outcome == COMPLETED

    @property
    def failure(self) -> FailureSeen | None:
        """The failure that ended the wait, if one did."""
        return next((seen for seen in self.failures if seen.ends_wait), None)

    def in_state(self, state: MilestoneState) -> list[MilestoneStatus]:
        return [status for status in self.milestones if status.state is state]


@dataclass
class _Tracked:
    node: str
    milestone: Milestone
    deadline: float
    state: MilestoneState = MilestoneState.PENDING
    line: LogLine | None = None
    failure: FailureSeen | None = None


class MilestoneWatch:
    """Follows the logs of one or more nodes until their milestones are reached.

    Typical use (from a worker thread or the CLI)::

        watch = MilestoneWatch()
        watch.add_node("worker1", [LogFollower(home / "repository/logs/wso2carbon.log", start_offset=size)],
                       expectations_for("worker", values), values)
        watch.add_cross_node(cross_node_expectations(cluster_values))  # those whose observer is watched
        result = watch.wait(600, stop_event, on_event=print)

    ``feed()`` and ``check_timeouts()`` drive it by hand (tests, lines from elsewhere). Lines of
    one node may come from several logs (console and wso2carbon.log): a milestone counts once,
    and stall repeats are counted per log so that a line printed to both is not counted twice.

    Only lines that can change something are looked at: ``line_filter(node)`` names the strings
    one of which every such line holds (its pending milestones' and its failure signatures'), the
    followers read with it (``LogFollower.poll(only=...)``), and ``feed`` passes over a line
    without any of them before parsing it. A log far behind is caught up at the speed of a byte
    search, and the result is the same as parsing every line.
    """

    def __init__(
        self,
        expectations: Expectations | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = POLL_INTERVAL_SECONDS,
        use_inotify: bool = True,
    ) -> None:
        self._expectations = expectations or default_expectations()
        self._clock = clock
        self._interval = interval
        self._use_inotify = use_inotify
        self._lock = threading.Lock()
        self._tracked: dict[str, list[_Tracked]] = {}
        self._started_at: dict[str, float] = {}
        self._catalogs: dict[str, FailureCatalog] = {}
        self._sources: list[tuple[str, int, LogFollower]] = []
        self._stall_counts: Counter[tuple[str, int, str]] = Counter()
        self._failures: list[FailureSeen] = []
        self._ending: FailureSeen | None = None
        self._began = clock()
        self._filters: dict[str, LineFilter] = {}  # per node; cleared whenever what is tracked changes

    def add_node(
        self,
        node: str,
        followers: Sequence[LogFollower] = (),
        milestones: Sequence[Milestone] = (),
        values: NodeValues | None = None,
        *,
        started_at: float | None = None,
    ) -> None:
        """Watches ``node``: its logs, its milestones (timeouts from ``started_at``, default now)
        and the failure signatures filled with its values."""
        with self._lock:
            if node in self._tracked:
                raise ValueError(f"node {node!r} is already watched")
            start = self._clock() if started_at is None else started_at
            self._started_at[node] = start
            self._tracked[node] = [_Tracked(node, m, start + m.timeout) for m in milestones]
            self._catalogs[node] = self._expectations.failure_catalog(values)
            self._sources.extend((node, index, follower) for index, follower in enumerate(followers))
            self._filters.clear()

    def add_cross_node(self, milestones: Sequence[Milestone], *, started_at: float | None = None) -> list[Milestone]:
        """Adds the cross-node milestones whose observer is watched; returns the others.

        Each one's clock starts with its subject node when that node is watched (add it first),
        otherwise at ``started_at`` (default now).
        """
        skipped = []
        with self._lock:
            default_start = self._clock() if started_at is None else started_at
            for milestone in milestones:
                if milestone.observer not in self._tracked:
                    skipped.append(milestone)
                    continue
                start = self._started_at.get(milestone.subject or "", default_start)
                self._tracked[milestone.observer].append(
                    _Tracked(milestone.observer, milestone, start + milestone.timeout))
            self._filters.clear()
        return skipped

    def line_filter(self, node: str) -> LineFilter:
        """The lines of ``node`` that can change anything now: those holding a string that one
        of its pending milestones or one of its failure signatures requires. Read its logs with
        it (``LogFollower.poll(only=...)``); the lines it leaves out would cause no event."""
        with self._lock:
            return self._filter_for(node)

    def feed(self, node: str, line: LogLine | str, *, source: int = 0) -> list[WatchEvent]:
        """Checks one line of ``node``'s log; returns what it caused.

        Once a failure has ended the watch, lines change nothing (as in ``wait``, which stops
        reading at that line).
        """
        if isinstance(line, str):
            line = LogLine(line, -1, 0)  # not from a file
        events: list[WatchEvent] = []
        with self._lock:
            if self._ending is not None:
                return events
            if not self._filter_for(node).may_match(line.text):
                return events  # holds nothing any pending milestone or signature needs
            parsed = parse_line(line.text)
            for tracked in self._tracked.get(node, ()):
                if tracked.state is MilestoneState.PENDING and tracked.milestone.matches(parsed):
                    tracked.state = MilestoneState.REACHED
                    tracked.line = line
                    events.append(MilestoneReached(node, tracked.milestone, line))
                    self._filters.clear()
            catalog = self._catalogs.get(node) or self._expectations.failure_catalog()
            found = catalog.match(parsed)
            if found is not None:
                events.append(self._failure_seen(node, source, found, line))
        return events

    def check_timeouts(self, now: float | None = None) -> list[WatchEvent]:
        """Marks the required milestones whose deadline passed; optional ones never time out."""
        now = self._clock() if now is None else now
        events: list[WatchEvent] = []
        with self._lock:
            if self._ending is not None:
                return events
            for tracked in self._all_tracked():
                if (tracked.state is MilestoneState.PENDING and tracked.milestone.required
                        and now >= tracked.deadline):
                    tracked.state = MilestoneState.TIMED_OUT
                    events.append(MilestoneTimedOut(tracked.node, tracked.milestone))
                    self._filters.clear()
        return events

    def status(self, outcome: str = "") -> WatchResult:
        """A snapshot, safe to take from another thread while ``wait`` runs."""
        with self._lock:
            return WatchResult(
                outcome=outcome,
                milestones=tuple(
                    MilestoneStatus(t.node, t.milestone, t.state, t.line, t.failure) for t in self._all_tracked()
                ),
                failures=tuple(self._failures),
                elapsed=self._clock() - self._began,
            )

    def outcome(self) -> str:
        """``failed`` / ``timed out`` / ``completed`` once decided, ``""`` while required ones are pending."""
        with self._lock:
            if self._ending is not None:
                return FAILED
            required = [t for t in self._all_tracked() if t.milestone.required]
            if any(t.state is MilestoneState.PENDING for t in required):
                return ""
            if any(t.state is MilestoneState.TIMED_OUT for t in required):
                return TIMED_OUT
            return COMPLETED

    def wait(
        self,
        timeout: float | None = None,
        stop: threading.Event | None = None,
        on_event: Callable[[WatchEvent], None] | None = None,
    ) -> WatchResult:
        """Follows the logs until every required milestone is reached (``completed``), a fatal
        or stalled failure is seen (``failed``), no required milestone is pending but some
        timed out, ``timeout`` seconds pass (``timed out``; the rest stays pending), or ``stop``
        is set (``stopped``). ``on_event`` is called, in this thread, for every event."""
        stop = stop or threading.Event()
        began = self._clock()
        overall_deadline = None if timeout is None else began + timeout

        def emit(events: Iterable[WatchEvent]) -> None:
            if on_event is not None:
                for event in events:
                    on_event(event)

        with ChangeWaiter([source[2] for source in self._sources], stop, interval=self._interval,
                          use_inotify=self._use_inotify) as waiter:
            while True:
                got_lines = self._read_sources(emit)
                emit(self.check_timeouts())
                outcome = self.outcome()
                if outcome:
                    return self.status(outcome)
                if stop.is_set():
                    return self.status(STOPPED)
                now = self._clock()
                if overall_deadline is not None and now >= overall_deadline:
                    return self.status(TIMED_OUT)
                if got_lines:
                    waiter.reset_backoff()
                    continue  # there may be more than one batch waiting
                wake_at = self._next_deadline()
                if overall_deadline is not None:
                    wake_at = overall_deadline if wake_at is None else min(wake_at, overall_deadline)
                waiter.wait(None if wake_at is None else max(0.0, wake_at - now))

    # --- internals -------------------------------------------------------------------------------------

    def _read_sources(self, emit: Callable[[Iterable[WatchEvent]], None]) -> bool:
        got_lines = False
        for node, source, follower in self._sources:
            # Filtered: an empty poll still means nothing new (see LogFollower.poll).
            lines = follower.poll(only=self.line_filter(node))
            got_lines = got_lines or bool(lines)
            for line in lines:
                emit(self.feed(node, line, source=source))
                if self._ending is not None:
                    return True  # stop at the line that ended the wait
        return got_lines

    def _failure_seen(self, node: str, source: int, found: FailureMatch, line: LogLine) -> FailureSeen:
        signature = found.signature
        occurrences = 1
        ends_wait = signature.kind == "fatal"
        hint = found.hint
        if signature.kind == "stall":
            key = (node, source, signature.name)
            self._stall_counts[key] += 1
            occurrences = self._stall_counts[key]
            ends_wait = occurrences >= signature.stall_after
            hint = " ".join(signature.render_hint(found.details, occurrences).split())
        seen = FailureSeen(node, signature, line, hint, found.setting, occurrences, ends_wait)
        self._failures.append(seen)
        if ends_wait and self._ending is None:
            self._ending = seen
            for tracked in self._all_tracked():
                about_this_node = tracked.node == node or tracked.milestone.subject == node
                if tracked.state is MilestoneState.PENDING and about_this_node:
                    tracked.state = MilestoneState.FAILED
                    tracked.failure = seen
            self._filters.clear()
        return seen

    def _filter_for(self, node: str) -> LineFilter:
        """``line_filter`` with the lock held."""
        line_filter = self._filters.get(node)
        if line_filter is None:
            catalog = self._catalogs.get(node) or self._expectations.failure_catalog()
            pending = [tracked.milestone.requirement for tracked in self._tracked.get(node, ())
                       if tracked.state is MilestoneState.PENDING]
            line_filter = self._filters[node] = LineFilter.combine([*pending, *catalog.requirements])
        return line_filter

    def _next_deadline(self) -> float | None:
        with self._lock:
            deadlines = [t.deadline for t in self._all_tracked()
                         if t.state is MilestoneState.PENDING and t.milestone.required]
        return min(deadlines, default=None)

    def _all_tracked(self) -> list[_Tracked]:
        return [tracked for node_tracked in self._tracked.values() for tracked in node_tracked]
