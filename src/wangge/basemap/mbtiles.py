"""An MBTiles 1.3 file (SQLite): read tiles by XYZ address, write rendered ones, metadata.

The `tiles` table counts rows from the south (TMS); the web asks by XYZ rows from the north,
so every access flips the row (`tiles.tms_row`). One connection per thread: SQLite objects
must not cross threads, and the server answers tiles from its thread pool.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from wangge.basemap.tiles import tms_row

FORMATS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS metadata (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS tiles (
    zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB,
    PRIMARY KEY (zoom_level, tile_column, tile_row)
);
"""


class MBTiles:
    """Tiles and metadata of one .mbtiles file."""

    def __init__(self, path: Path, *, writable: bool = False) -> None:
        self.path = Path(path)
        self.writable = writable
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            if self.writable:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
                db.execute("PRAGMA journal_mode=WAL")  # readers go on while a tile is written
                db.executescript(_SCHEMA)
            else:  # read-only: a missing file is an error, never an empty new one
                db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            self._local.db = db
        return db

    def get(self, z: int, x: int, y: int) -> bytes | None:
        """Return the tile at XYZ (z, x, y), or None when the file has none there."""
        row = (
            self._db()
            .execute(
                "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, x, tms_row(z, y)),
            )
            .fetchone()
        )
        return bytes(row[0]) if row and row[0] is not None else None

    def put(self, z: int, x: int, y: int, data: bytes) -> None:
        """Store the tile at XYZ (z, x, y), replacing any older one."""
        db = self._db()
        with db:
            db.execute(
                "INSERT OR REPLACE INTO tiles VALUES (?, ?, ?, ?)", (z, x, tms_row(z, y), data)
            )

    def put_many(self, rows: list[tuple[int, int, int, bytes]]) -> None:
        """Store many XYZ tiles in one transaction."""
        db = self._db()
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO tiles VALUES (?, ?, ?, ?)",
                [(z, x, tms_row(z, y), data) for z, x, y, data in rows],
            )

    def has(self, z: int, x: int, y: int) -> bool:
        """Return True when the file holds the tile."""
        row = (
            self._db()
            .execute(
                "SELECT 1 FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                (z, x, tms_row(z, y)),
            )
            .fetchone()
        )
        return row is not None

    def metadata(self) -> dict[str, str]:
        """Return the metadata table as a dict."""
        return dict(self._db().execute("SELECT name, value FROM metadata").fetchall())

    def set_metadata(self, values: dict[str, str]) -> None:
        """Write metadata entries (name → value)."""
        db = self._db()
        with db:
            db.executemany(
                "INSERT OR REPLACE INTO metadata VALUES (?, ?)",
                [(k, str(v)) for k, v in values.items()],
            )

    def count(self) -> int:
        """Return how many tiles the file holds."""
        return int(self._db().execute("SELECT count(*) FROM tiles").fetchone()[0])

    def media_type(self) -> str | None:
        """Return the tiles' content type from the `format` metadata (None: not a raster)."""
        return FORMATS.get(self.metadata().get("format", "png").lower())

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
