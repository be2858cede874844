from __future__ import annotations

import pytest

from tests.paths import CARBON_CONFIGS_DIR
from tests.support.mariadb import MariaDBServer


@pytest.fixture(scope="session")
def carbon_configs_dir():
    if not CARBON_CONFIGS_DIR.is_dir():
        pytest.fail(f"{CARBON_CONFIGS_DIR} is missing: the suite needs ../shared beside the checkout")
    return CARBON_CONFIGS_DIR


@pytest.fixture(scope="session")
def mariadb():
    """One real MariaDB server for the whole session (see tests/support/mariadb.py). A missing
    MariaDB is an error, not a skip: ``./dev test`` installs it."""
    with MariaDBServer() as server:
        yield server


@pytest.fixture
def fresh_mariadb_state(mariadb):
    """The session's server with every database and account a previous test left dropped.

    Cleans before the test rather than after, so leftovers of tests that used ``mariadb`` directly
    are gone too, and a failed test's state stays in place for ``--pdb``.
    """
    mariadb.reset()
    return mariadb
