"""``scripts/mutation.py`` ends mutmut's children that overrun (a mutant that makes a test wait
for ever would otherwise hold its child for good): real processes, titled as mutmut titles them."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mutation.py"

pytestmark = pytest.mark.skipif(not Path("/proc/uptime").exists(), reason="needs Linux /proc")


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def titled(title: str, spin: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    """A child of this process that sets its title (as mutmut's children do), then sleeps or
    spins until killed."""
    work = "while True: pass" if spin else "time.sleep(60)"
    code = "\n".join(
        [
            "import setproctitle, time",
            f"setproctitle.setproctitle({title!r})",
            "print(flush=True)",
            work,
        ]
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        child.stdout.readline()  # the title is set
        yield child
    finally:
        child.kill()
        child.wait()


@pytest.fixture
def asleep() -> Iterator[subprocess.Popen[bytes]]:
    yield from titled("mutmut: fal_typed._wait.x_iter_status__mutmut_34")


@pytest.fixture
def spinning() -> Iterator[subprocess.Popen[bytes]]:
    yield from titled("mutmut: fal_typed._wait.x_iter_status__mutmut_40", spin=True)


@pytest.fixture
def other() -> Iterator[subprocess.Popen[bytes]]:
    yield from titled("pytest worker")


def test_a_mutant_child_past_the_wall_limit_is_overdue_named_by_its_mutant(
    asleep: subprocess.Popen[bytes],
) -> None:
    script = load_script()
    time.sleep(0.1)
    found = script.overdue(os.getpid(), max_wall=0.0, max_cpu=1000.0)
    assert found == {asleep.pid: "fal_typed._wait.x_iter_status__mutmut_34"}
    assert script.overdue(os.getpid(), max_wall=1000.0, max_cpu=1000.0) == {}


def test_a_mutant_child_past_the_cpu_limit_is_overdue(spinning: subprocess.Popen[bytes]) -> None:
    script = load_script()
    deadline = time.monotonic() + 20
    found: dict[int, str] = {}
    while not found and time.monotonic() < deadline:  # until it has spun 0.3 s of CPU
        time.sleep(0.1)
        found = script.overdue(os.getpid(), max_wall=1000.0, max_cpu=0.3)
    assert found == {spinning.pid: "fal_typed._wait.x_iter_status__mutmut_40"}


def test_only_mutmut_s_children_of_the_given_parent_are_overdue(
    asleep: subprocess.Popen[bytes], other: subprocess.Popen[bytes]
) -> None:
    script = load_script()
    time.sleep(0.1)
    assert set(script.overdue(os.getpid(), max_wall=0.0, max_cpu=0.0)) == {asleep.pid}
    assert script.overdue(asleep.pid, max_wall=0.0, max_cpu=0.0) == {}
