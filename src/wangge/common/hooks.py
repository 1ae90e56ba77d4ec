"""Whether the composition root has run.

Lower packages call back into higher ones through registries filled at start-up by
`wangge.wiring.wire` (re-divisions move cases and registry records; each case event updates
the evaluation facts), never by importing them. A registry left empty would lose work without
a sound, so the code that relies on one asks `require_wired` first and fails loudly instead.
"""

from __future__ import annotations

_wired = False


def mark_wired() -> None:
    """Record that `wangge.wiring.wire` has registered every hook."""
    global _wired
    _wired = True


def require_wired(what: str) -> None:
    """Refuse to go on when the hooks were never registered (a programming error)."""
    if not _wired:
        raise RuntimeError(f"{what}: call wangge.wiring.wire() at start-up first")
