"""The engine's remedies said the wizard's way: screens and buttons, never a command-line flag
(the CLI words the same remedies in commands and flags)."""

from __future__ import annotations

from installer import (
    CHOOSE_SERVER,
    GIVE_PASSWORD,
    LOAD_SCHEMA_ANYWAY,
    PREVIEW_HOSTS_LINES,
    READ_NODE_LOG,
    REWRITE_CHANGED_FILES,
    RUN_CLUSTER_TEST,
    RUN_STEP,
    SET_PASSWORD_ON_ACCOUNTS,
    SHOW_DIFFS,
    START_NODE,
    Remedy,
)

PASSWORD_NAMES = {"db_password": "application password", "db_admin_password": "admin password",
                  "svn_password": "svn password"}
# Remedies the Apply screen's Force button carries out (the run again, told to rewrite or set).
FORCE_ACTIONS = frozenset({REWRITE_CHANGED_FILES, SET_PASSWORD_ON_ACCOUNTS, LOAD_SCHEMA_ANYWAY})


def remedy_words(remedy: Remedy | None, here: str | None = None) -> str:
    """``here``: the server this wizard runs on (a remedy there needs no "on which server")."""
    if remedy is None:
        return ""
    elsewhere = f" (in the installer on {remedy.server})" if remedy.server and remedy.server != here else ""
    action = remedy.action
    if action == GIVE_PASSWORD:
        name = PASSWORD_NAMES.get(remedy.secret, "password")
        screen = "Cluster" if remedy.secret == "svn_password" else "Database"
        return f"enter the {name} on the {screen} screen (Enter passwords), then Retry"
    if action == REWRITE_CHANGED_FILES:
        return "the Review screen shows the diffs; Force lets the installer rewrite its values"
    if action == SHOW_DIFFS:
        return "the Review screen shows the diffs"
    if action == RUN_STEP:
        return f"run the {remedy.step} step from the Apply screen{elsewhere}"
    if action == START_NODE:
        return f"start {remedy.node} from the Launch screen{elsewhere}"
    if action == READ_NODE_LOG:
        return f"{remedy.node}'s tab on the Launch screen shows its log with the milestones{elsewhere}"
    if action == CHOOSE_SERVER:
        return "choose which server this machine is on the Topology screen"
    if action == SET_PASSWORD_ON_ACCOUNTS:
        return f"or press Force to set the given password on {', '.join(remedy.choices)}"
    if action == LOAD_SCHEMA_ANYWAY:
        return "or press Force to load Carbon's schema next to what is there"
    if action == PREVIEW_HOSTS_LINES:
        return "the Review screen shows the lines"
    if action == RUN_CLUSTER_TEST:
        return f"press Cluster test on the Verify screen{elsewhere}"
    return ""


def what_to_do(hint: str, remedy: Remedy | None, here: str | None = None) -> str:
    return "; ".join(part for part in (hint, remedy_words(remedy, here)) if part)
