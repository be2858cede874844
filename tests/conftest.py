from __future__ import annotations

import pytest

from tests.paths import CARBON_CONFIGS_DIR


@pytest.fixture(scope="session")
def carbon_configs_dir():
    if not CARBON_CONFIGS_DIR.is_dir():
        pytest.fail(f"{CARBON_CONFIGS_DIR} is missing: the suite needs ../shared beside the checkout")
    return CARBON_CONFIGS_DIR
