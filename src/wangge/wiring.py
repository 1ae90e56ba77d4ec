"""The composition root: what lower packages call back into higher ones, registered once.

Package dependencies point one way (common → divisions → grids → registry → cases →
evaluation → api/web/cli; the import contracts in pyproject.toml hold them). Where a lower
package must notify a higher one, it keeps a registry and this module fills it:

- `grids.versions.LOCATED`: a re-division (activating a grid version) moves the rows of the
  registry's located tables and of the cases; the evaluation facts and rollups follow moved
  cases, and component lines and polygons are located again in every grid they cross.
- `cases.store.EVENT_HOOKS`: each stored case event brings the case's evaluation facts (and
  rollups) in step.

Every entry point calls `wire()` before serving or working: the web application
(`wangge.main.create_app`), the command line (`wangge.cli`), the test suite's conftest and
the benchmarks. Code that relies on a registry asks `common.hooks.require_wired` first, so a
forgotten call fails loudly instead of losing work.
"""

from __future__ import annotations

import threading

from wangge.cases.located import CASES
from wangge.cases.models import Case
from wangge.cases.store import EVENT_HOOKS
from wangge.common.hooks import mark_wired
from wangge.evaluation.stored import cases_moved, refresh_case
from wangge.grids.versions import located_spec, register_located
from wangge.registry.component_grids import components_moved
from wangge.registry.located import SPECS
from wangge.registry.models import Component

_lock = threading.Lock()


def wire() -> None:
    """Register every cross-package hook (idempotent, thread-safe)."""
    with _lock:
        register_located(CASES, *SPECS)  # the order re-divisions report them in, as before
        for model, hook in ((Case, cases_moved), (Component, components_moved)):
            moved = located_spec(model).on_moved
            if hook not in moved:
                moved.append(hook)
        if refresh_case not in EVENT_HOOKS:
            EVENT_HOOKS.append(refresh_case)
        mark_wired()
