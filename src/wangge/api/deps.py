"""FastAPI dependencies: the database session and the current principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from wangge.auth.principal import LOCAL_OPERATOR, Principal
from wangge.config import Settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: committed on success, rolled back on any error."""
    factory = request.app.state.session_factory
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_settings(request: Request) -> Settings:
    """Return the app's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_principal() -> Principal:
    """Return who is calling; the accounts issue replaces this with real authentication."""
    return LOCAL_OPERATOR


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
