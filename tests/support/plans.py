"""Test plans: the seed's cluster with its paths pointed at temporary folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.paths import REPO_DIR

SEED_PLAN = REPO_DIR / "assets" / "examples" / "seed.yaml"
# Every address a test plan names is on loopback: tests never send traffic anywhere else.
LOOPBACK_ADDRESSES = {"server-206": "127.0.0.2", "server-132": "127.0.0.3"}
UNUSED_DATABASE_PORT = 9  # discard: nothing listens there, so a stray connection fails at once


@dataclass(frozen=True)
class SeedCluster:
    plan: Path
    root: Path

    def install_dir(self, server: str) -> Path:
        return self.root / server / "wso2"

    def hosts_file(self, server: str) -> Path:
        return self.root / server / "hosts"

    def home(self, server: str, node: str) -> Path:
        return self.install_dir(server) / node


def write_seed_plan(root: Path, distributions: dict[str, Path], *, addresses: dict[str, str] | None = None,
                    database_address: str | None = None, edit=None) -> SeedCluster:
    """The seed plan with install dirs and hosts files under ``root`` (hosts files get a few
    lines of their own so we can see that they survive), on loopback addresses."""
    data = yaml.safe_load(SEED_PLAN.read_text())
    addresses = addresses or LOOPBACK_ADDRESSES
    data["database"]["address"] = database_address or addresses["server-206"]
    data["database"]["port"] = UNUSED_DATABASE_PORT
    data["distributions"] = {key: str(path) for key, path in distributions.items()}
    for server in data["servers"]:
        name = server["name"]
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        server["install_dir"] = str(folder / "wso2")
        server["hosts_file"] = str(folder / "hosts")
        (folder / "hosts").write_text(f"127.0.0.1\tlocalhost\n# {name}'s own line\n10.9.9.9 other.example.org\n")
        server["address"] = addresses[name]
    if edit is not None:
        edit(data)
    plan = root / "plan.yaml"
    plan.write_text(yaml.safe_dump(data, sort_keys=False))
    return SeedCluster(plan=plan, root=root)
