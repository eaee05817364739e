"""Counting this process's open TCP connections to a port, to prove a connection was closed
(Linux: /proc). Server-side sockets of the in-process local server have it as their local port,
so only client sockets count."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def connections_to(port: int) -> int:
    """How many of this process's file descriptors are TCP sockets whose remote port is ``port``."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc (Linux)")
    inodes: set[str] = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed since listing
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in (Path("/proc/self/net/tcp"), Path("/proc/self/net/tcp6")):
        if not table.exists():
            continue
        for line in table.read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rpartition(":")[2], 16)
            if remote_port == port and fields[9] in inodes:
                count += 1
    return count
