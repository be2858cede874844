"""The wizard's state: everything the operator typed, held in one object for the whole session.

Screens are views of this object: each reads its fields when it is built and writes every
change back at once, so moving Back and Next never loses input. Passwords live here, in
memory only; they never reach the plan text, the state file or a log.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from installer import (
    ADMIN_PASSWORD_ENV,
    APP_PASSWORD_ENV,
    SVN_PASSWORD_ENV,
    PlanDraft,
    Secrets,
    problem_field,
    problems_under,
    rebase_paths,
)

if TYPE_CHECKING:  # the engine's heavier modules load when first needed, not before the first screen
    from installer import CheckedPlan, Layout, Plan, PlanProblem, ServerGuess, State

log = logging.getLogger("wso2_cluster.tui")

REPO_DIR = Path(__file__).resolve().parent.parent
SEED_PLAN = REPO_DIR / "assets" / "examples" / "seed.yaml"
DEFAULT_PLAN_NAME = "plan.yaml"
PLAN_HEADER = ("wso2-cluster plan: one file for the whole cluster; copy it to every server and run\n"
               "the installer there with --server NAME. Passwords are never stored here.")


@dataclass(frozen=True)
class DraftCheck:
    """The result of validating the plan a draft produces (never raises)."""

    text: str
    plan: Plan | None
    layout: Layout | None
    problems: tuple[PlanProblem, ...]

    @property
    def errors(self) -> tuple[PlanProblem, ...]:
        return tuple(problem for problem in self.problems if problem.severity == "error")

    @property
    def warnings(self) -> tuple[PlanProblem, ...]:
        return tuple(problem for problem in self.problems if problem.severity == "warning")

    def for_field(self, path: str) -> list[PlanProblem]:
        return [problem for problem in self.problems if problem_field(problem) == path]

    def under(self, *prefixes: str) -> list[PlanProblem]:
        return problems_under(self.problems, *prefixes)

    def errors_under(self, *prefixes: str) -> list[PlanProblem]:
        return [problem for problem in self.under(*prefixes) if problem.severity == "error"]

    def runs_esb_on(self, server_name: str | None) -> bool:
        """Whether the derived layout puts a manager or worker on that server (False when there
        is no layout yet or no such server)."""
        if self.layout is None or not server_name:
            return False
        try:
            return any(node.is_esb for node in self.layout.server(server_name).nodes)
        except KeyError:
            return False

    def checked_plan(self) -> CheckedPlan | None:
        """What the engine takes, when the plan has no errors."""
        from installer import CheckedPlan

        if self.plan is None or self.layout is None or self.errors:
            return None
        return CheckedPlan(plan=self.plan, layout=self.layout, problems=self.problems)


def check_text(text: str, path: Path, *, check_files: bool, is_root: bool) -> DraftCheck:
    """What ``check_plan`` finds, on text that is not (yet) a file, without raising."""
    from installer import PlanProblem, check_parsed, parse_plan

    try:
        plan, problems = parse_plan(text, path)
        layout, problems = check_parsed(plan, problems, check_files=check_files, is_root=is_root)
    except Exception:  # a bug in validation must not take the form down; the log keeps the traceback
        log.exception("validating the plan failed unexpectedly")
        problem = PlanProblem(Path(path).name, None, "(file)", "the plan could not be checked (a bug)",
                              "see the log file")
        return DraftCheck(text, None, None, (problem,))
    return DraftCheck(text, plan, layout, tuple(problems))


@dataclass
class WizardState:
    draft: PlanDraft
    plan_path: Path | None = None  # where the plan was opened from or saved to
    saved_text: str | None = None  # the plan text as last opened or saved, to tell unsaved changes
    this_server: str | None = None
    server_confirmed: bool = False
    secrets: Secrets = field(default_factory=Secrets)
    skipped_steps: set[str] = field(default_factory=set)
    is_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    # This machine's addresses; read when first needed (psutil costs a noticeable part of a cold start).
    local_addresses: dict[str, str] | None = None
    working_folder: Path = field(default_factory=Path.cwd)
    ignored_keys: list[str] = field(default_factory=list)
    log_file: Path | None = None  # where tracebacks go (shown to the operator)
    # How far the operator got (the index of the furthest screen shown): the step bar, the digit
    # keys and the command palette go straight to any screen up to it, not beyond.
    furthest: int = 0
    _cache: dict[tuple[str, bool], DraftCheck] = field(default_factory=dict, repr=False)

    # --- the plan ----------------------------------------------------------------------------------

    @property
    def base_folder(self) -> Path:
        """Relative paths in the plan are read from the plan file's folder (cwd for a new plan)."""
        return self.plan_path.parent if self.plan_path is not None else self.working_folder

    @property
    def effective_plan_path(self) -> Path:
        return self.plan_path if self.plan_path is not None else self.working_folder / DEFAULT_PLAN_NAME

    def plan_text(self) -> str:
        return self.draft.to_yaml(header=PLAN_HEADER)

    @property
    def unsaved(self) -> bool:
        return self.plan_path is None or self.saved_text != self.plan_text()

    def check(self, *, check_files: bool = False) -> DraftCheck:
        """Validation of the current draft; without files it is cheap and cached per text."""
        text = self.plan_text()
        key = (text, check_files)
        if not check_files and key in self._cache:
            return self._cache[key]
        result = check_text(text, self.effective_plan_path, check_files=check_files, is_root=self.is_root)
        if not check_files:
            self._cache.clear()  # one entry: the draft only moves forward
            self._cache[key] = result
        return result

    def load(self, text: str, path: Path | None) -> None:
        """Replace the draft with a plan's text (raises ``yaml.YAMLError`` when it is not YAML).
        Another plan is another walk through the screens: none is reached yet."""
        draft, ignored = PlanDraft.from_yaml(text)
        self.furthest = 0
        self.draft = draft
        self.ignored_keys = ignored
        self.plan_path = Path(path).resolve() if path is not None else None
        self.saved_text = self.plan_text() if path is not None else None
        names = draft.server_names()
        if self.this_server not in names:
            self.this_server = None
            self.server_confirmed = False
        self._cache.clear()

    def load_file(self, path: Path) -> None:
        self.load(Path(path).read_text(encoding="utf-8"), path)

    def new_from_seed(self) -> None:
        """A new plan from the guide's example; relative file names are read from the working folder."""
        self.load(SEED_PLAN.read_text(encoding="utf-8"), None)

    def save(self, path: Path) -> Path:
        """Write the plan (no passwords in it) atomically; relative paths keep naming the same files."""
        from installer import atomic_write_text

        path = Path(path).expanduser().resolve()
        self.draft = rebase_paths(self.draft, self.base_folder, path.parent)
        text = self.plan_text()
        atomic_write_text(path, text)
        self.plan_path = path
        self.saved_text = text
        self._cache.clear()
        return path

    def reach(self, index: int) -> None:
        """The screen at ``index`` is shown: every screen up to it may be gone to directly."""
        self.furthest = max(self.furthest, index)

    def checked_plan(self) -> CheckedPlan:
        """The plan as the engine takes it, with every file checked; raises PlanError."""
        from installer import PlanError

        result = self.check(check_files=True)
        checked = result.checked_plan()
        if checked is None:
            raise PlanError(list(result.errors))
        return checked

    # --- this server ---------------------------------------------------------------------------------

    def guess_server(self) -> ServerGuess:
        from installer import guess_this_server, local_addresses

        if self.local_addresses is None:
            self.local_addresses = local_addresses()
        servers = [(server.name, server.address) for server in self.draft.servers]
        return guess_this_server(servers, self.local_addresses)

    def server_index(self, name: str | None) -> int | None:
        for index, server in enumerate(self.draft.servers):
            if server.name == name:
                return index
        return None

    def state_file(self, server_name: str | None = None) -> Path | None:
        """Where the engine keeps this server's state (None while the server is not known)."""
        index = self.server_index(server_name or self.this_server)
        if index is None:
            return None
        server = self.draft.servers[index]
        if not server.install_dir.strip():
            return None
        from installer import state_path

        install_dir = Path(os.path.expanduser(server.install_dir.strip()))
        if not install_dir.is_absolute():
            install_dir = self.base_folder / install_dir
        return state_path(install_dir, server.name)

    def saved_state(self, server_name: str | None = None) -> State | None:
        """The state file of a server when one exists (read without checking anything)."""
        from installer import State

        path = self.state_file(server_name)
        if path is None or not path.is_file():
            return None
        return State.load(path, server_name or self.this_server or "")


def secrets_from_environment(environ: dict[str, str] | os._Environ[str]) -> Secrets:
    """Passwords the operator exported before starting (kept in memory like typed ones)."""
    return Secrets(db_password=environ.get(APP_PASSWORD_ENV) or None,
                   db_admin_password=environ.get(ADMIN_PASSWORD_ENV) or None,
                   svn_password=environ.get(SVN_PASSWORD_ENV) or None)


class RecentPlan:
    """The last plan the wizard opened or saved, so ``wso2-cluster`` alone can offer to resume."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def read(self) -> Path | None:
        if self.path is None:
            return None
        try:
            text = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return Path(text) if text else None

    def remember(self, plan_path: Path) -> None:
        from installer import atomic_write_text

        if self.path is None:
            return
        try:
            atomic_write_text(self.path, f"{plan_path}\n")
        except OSError:
            log.warning("cannot remember the last plan in %s", self.path, exc_info=True)
