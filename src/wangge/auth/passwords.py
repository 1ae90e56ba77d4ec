"""Password hashing: argon2id with the library's own cost profiles.

`WANGGE_PASSWORD_HASHING=cheapest` selects argon2-cffi's `CHEAPEST` profile, which the
library provides for test suites (a hash in microseconds instead of ~100 ms). It is read from
the environment, not from Settings, because servers started by the tests inherit it and the
hasher is needed outside any app (CLI, factories). It is refused in production.
"""

from __future__ import annotations

import os
from functools import cache

from argon2 import PasswordHasher, profiles

PROFILES = {
    "standard": profiles.RFC_9106_LOW_MEMORY,  # argon2-cffi's default: 64 MiB, t=3, p=4
    "cheapest": profiles.CHEAPEST,
}


@cache
def hasher() -> PasswordHasher:
    """Return the process's password hasher (verifies hashes made with any profile)."""
    name = os.environ.get("WANGGE_PASSWORD_HASHING", "standard").strip().lower() or "standard"
    if name not in PROFILES:
        raise ValueError(
            f"WANGGE_PASSWORD_HASHING={name!r}：应为 standard 或 cheapest / must be "
            "standard or cheapest"
        )
    if name != "standard" and os.environ.get("WANGGE_ENV", "").lower() == "production":
        raise ValueError(
            "生产环境不得降低密码散列强度 / WANGGE_PASSWORD_HASHING=cheapest is refused when "
            "WANGGE_ENV=production"
        )
    return PasswordHasher.from_parameters(PROFILES[name])
