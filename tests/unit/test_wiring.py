"""The composition root (`wangge.wiring`) registers what lower packages call back into higher
ones; an entry point that forgot it fails loudly instead of losing work (issue 21 item 3).

Run in fresh interpreters: the suite's conftest wires its own process.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_wire_registers_the_located_tables_and_hooks_once():
    done = _run(
        "from wangge.grids import versions\n"
        "before = [s.label_zh for s in versions.LOCATED]\n"
        "from wangge.wiring import wire\n"
        "wire(); wire()\n"
        "from wangge.cases.store import EVENT_HOOKS\n"
        "from wangge.cases.models import Case\n"
        "from wangge.registry.models import Component\n"
        "print(before)\n"
        "print(sorted(s.label_zh for s in versions.LOCATED))\n"
        "print([h.__name__ for h in versions.located_spec(Case).on_moved],"
        " [h.__name__ for h in versions.located_spec(Component).on_moved],"
        " [h.__name__ for h in EVENT_HOOKS])\n"
    )
    assert done.returncode == 0, done.stderr
    before, after, hooks = done.stdout.splitlines()
    assert before == "['点图层']"  # importing grids registers nothing of the packages above
    assert after == str(sorted(["点图层", "案卷", "楼栋", "部件", "组织", "实有人口"]))
    assert hooks == "['cases_moved'] ['components_moved'] ['refresh_case']"


@pytest.mark.parametrize(
    "call",
    [
        "from wangge.cases.store import add_event; add_event(None, None, None, None)",
        "from wangge.grids.versions import reassign; reassign(None, None)",
    ],
)
def test_an_entry_point_that_did_not_wire_fails_loudly(call):
    done = _run(call)
    assert done.returncode != 0
    assert "RuntimeError" in done.stderr and "wangge.wiring.wire()" in done.stderr
