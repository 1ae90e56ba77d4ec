"""Schema management: Alembic upgrades and the current-revision check.

Alembic (and every model, through the migration environment) is imported only when a
migration may run: commands first compare the database's revision with the newest shipped
one (`upgrade_if_behind`), which is the usual case and takes a millisecond.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r"^(revision|down_revision|branch_labels|depends_on)\s*=\s*(.+?)\s*$", re.M)


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic config pointing at the packaged migrations."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # The config is a ConfigParser: a '%' (a quoted password, a multi-host URL's "host=a%3A5432")
    # must be doubled, or reading it back fails on interpolation.
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(slug)s")
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` inside one transaction."""
    from alembic import command

    cfg = alembic_config(engine)
    with _migrating(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` inside one transaction (tests, emergencies)."""
    from alembic import command

    cfg = alembic_config(engine)
    with _migrating(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """One transaction; on SQLite with foreign keys off while tables are rebuilt.

    SQLite alters a table by copying it into a new one and dropping the old (Alembic's batch
    mode); with foreign keys on, dropping `departments` or `components` fails as soon as a
    row refers to them, so an upgrade of a populated database failed. The pragma only takes
    effect outside a transaction; the rows are checked again before the commit.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()  # ends SQLAlchemy's autobegun transaction (no BEGIN was sent)
        try:
            with conn.begin():
                yield conn
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def current_revision(engine: Engine) -> str | None:
    """Return the database's Alembic revision, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """Return the newest revision shipped with this version of wangge."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


@functools.cache
def shipped_head() -> str | None:
    """The newest shipped revision, read from the migration files without Alembic.

    None when the history is not one plain chain (a branch, a merge, a file this reading does
    not understand): then the caller asks Alembic.
    """
    downs: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_REVISION.findall(path.read_text("utf-8")))
        rev, down = found.get("revision", ""), found.get("down_revision", "")
        if (
            found.get("branch_labels", "None") != "None"
            or found.get("depends_on", "None") != "None"
        ):
            return None
        if not re.fullmatch(r"[\"'][\w-]+[\"']", rev) or not re.fullmatch(
            r"None|[\"'][\w-]+[\"']", down
        ):
            return None
        downs[rev.strip("\"'")] = None if down == "None" else down.strip("\"'")
    heads = set(downs) - set(downs.values())
    return heads.pop() if len(heads) == 1 else None


def stored_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions recorded in the database (empty for a database never migrated)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return ()
        return tuple(
            sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        )


def upgrade_if_behind(engine: Engine) -> None:
    """Upgrade to the newest revision unless the database is already there (no Alembic then)."""
    head = shipped_head()
    if head is None or stored_revisions(engine) != (head,):
        upgrade(engine)
