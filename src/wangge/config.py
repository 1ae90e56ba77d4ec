"""Typed settings, read from the environment (prefix WANGGE_) or passed in by tests."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Every setting of a wangge deployment; each can be set as WANGGE_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="WANGGE_", env_file=None, extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'wangge.db'}",
        description="SQLAlchemy URL: a SQLite file (embedded default) or postgresql+psycopg://...",
    )
    grid_sequence_width: int = Field(
        default=3,
        ge=2,
        le=3,
        description="Digits of the grid sequence after the 12-digit community code "
        "(3: 15-digit codes as DB11/T 2157-2023 and GB/T 47678; 2: CJ/T 213 14-digit codes).",
    )
    unit_grid_area_m2: float = Field(default=10_000.0, gt=0, description="Default unit-grid area.")
    cookie_secure: bool = Field(
        default=False, description="Send the session cookie only over HTTPS (set true behind TLS)."
    )
    upload_dir: Path = Field(
        default=DEFAULT_DATA_DIR / "uploads", description="Where photos are stored."
    )
    upload_max_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest photo accepted."
    )
    upload_max_pixels: int = Field(
        default=40_000_000, gt=0, description="Decompression-bomb guard."
    )
    public_reporting: bool = Field(
        default=True, description="Let citizens report without an account."
    )
    sql_echo: bool = False

    @property
    def is_sqlite(self) -> bool:
        """Return True when the embedded SQLite backend is configured."""
        return self.database_url.startswith("sqlite")
