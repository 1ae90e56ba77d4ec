"""HTTP tests through the real request path: the app's own commit and rollback on the test's session.

Overriding `get_session` with the bare session (as the API tests once did) skipped the commit
after a success and the rollback after an error, so a login failure counted in a test and was
rolled back on the live server. Here only `open_session` is replaced: the request still runs
`get_session`, whose commit releases and whose rollback undoes the request's savepoint inside
the test's outer transaction, which is rolled back when the test ends.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from sqlalchemy.orm import Session

from wangge.api.deps import open_session


def serve_session(app: FastAPI, session: Session) -> None:
    """Make every request of `app` use `session` (from the `session` fixture)."""

    def open_test_session() -> Iterator[Session]:
        session.commit()  # what the test set up so far survives a failed request, as in a real DB
        yield session

    app.dependency_overrides[open_session] = open_test_session
