"""Every grid a line or polygon component crosses (a pipeline lies in many grids)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from wangge.db import Base


class ComponentGrid(Base):
    """One grid (of one layer's active version) that a non-point component crosses."""

    __tablename__ = "component_grids"

    component_id: Mapped[int] = mapped_column(
        ForeignKey("components.id", ondelete="CASCADE"), primary_key=True
    )
    grid_id: Mapped[int] = mapped_column(
        ForeignKey("grids.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    layer: Mapped[str] = mapped_column(String(8))  # social | unit
