"""This machine's addresses, to tell which server of a plan "this server" is.

The guess is only a suggestion: the operator confirms it (a machine can carry several plan
addresses, and on a single test machine every 127.x address is local).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psutil


def local_addresses() -> dict[str, str]:
    """Every IPv4/IPv6 address of this machine's interfaces -> the interface's name."""
    found: dict[str, str] = {}
    for interface, entries in psutil.net_if_addrs().items():
        for entry in entries:
            if entry.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = entry.address.split("%", 1)[0]  # fe80::1%eth0: the scope is not part of the address
            try:
                found.setdefault(str(ipaddress.ip_address(address)), interface)
            except ValueError:
                continue
    return found


@dataclass(frozen=True)
class ServerGuess:
    """Which plan server this machine seems to be; ``name`` is None when it cannot be told."""

    name: str | None
    reason: str
    candidates: tuple[str, ...] = ()


def guess_this_server(servers: Sequence[tuple[str, str]], addresses: Mapping[str, str]) -> ServerGuess:
    """``servers``: (name, address) of each plan server; ``addresses``: ``local_addresses()``.

    An address held by an interface wins; else a loopback address (Linux answers the whole
    127.0.0.0/8 on ``lo`` without it being listed) counts as this machine.
    """
    parsed: list[tuple[str, str]] = []
    for name, address in servers:
        try:
            parsed.append((name, str(ipaddress.ip_address(address.strip()))))
        except ValueError:
            continue  # not an address yet (the plan's validation says so next to the field)

    on_interface = [(name, address) for name, address in parsed if address in addresses]
    if len(on_interface) == 1:
        name, address = on_interface[0]
        return ServerGuess(name, f"{address} is an address of this machine ({addresses[address]})", (name,))
    if len(on_interface) > 1:
        names = tuple(name for name, _ in on_interface)
        return ServerGuess(None, f"this machine has the addresses of {', '.join(names)}: choose one", names)
    loopback = [(name, address) for name, address in parsed if ipaddress.ip_address(address).is_loopback]
    if len(loopback) == 1:
        name, address = loopback[0]
        return ServerGuess(name, f"{address} is a loopback address of this machine", (name,))
    if len(loopback) > 1:
        names = tuple(name for name, _ in loopback)
        return ServerGuess(None, f"{', '.join(names)} all use loopback addresses of this machine: choose one", names)
    return ServerGuess(None, "none of the plan's server addresses is an address of this machine")
