"""What the GIS file readers and writers exchange: features, extensions, error builders.

`Feature` and `FeatureSet` are the public result of reading; `RawLayer` is what a format
reader hands to the checks before anything is converted. `fail` and `export_failed` build
the bilingual errors every module raises.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from wangge.common.geo import Crs
from wangge.errors import ImportFailed, ValidationFailed

PathLike = str | os.PathLike[str]

OGR_EXTENSIONS = frozenset({".geojson", ".json", ".gpkg", ".shp", ".zip"})
TABLE_EXTENSIONS = frozenset({".csv", ".xlsx"})
READ_EXTENSIONS = OGR_EXTENSIONS | TABLE_EXTENSIONS
WRITE_EXTENSIONS = frozenset({".geojson", ".json", ".gpkg", ".zip", ".shp", ".csv", ".xlsx"})


@dataclass
class Feature:
    """One imported feature: 1-based `number` as the user sees it, canonical geometry."""

    number: int
    geometry: BaseGeometry | None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class FeatureSet:
    """All features of one file, plus where they came from."""

    features: list[Feature]
    source_crs: Crs
    encoding: str | None
    fields: list[str]

    def __len__(self) -> int:
        return len(self.features)

    def __iter__(self) -> Iterator[Feature]:
        return iter(self.features)


@dataclass
class RawLayer:
    """Geometries (still in the source CRS) and attributes as read, before checking."""

    geometries: list[BaseGeometry | None]
    properties: list[dict[str, Any]]
    numbers: list[int]
    fields: list[str]
    crs: Crs | None
    encoding: str | None


def fail(
    file: str,
    reason_zh: str,
    reason_en: str,
    *,
    feature: int | None = None,
    field: str | None = None,
) -> ImportFailed:
    """Build an ImportFailed for `file` (a basename)."""
    return ImportFailed(
        file=file, feature=feature, field=field, reason_zh=reason_zh, reason_en=reason_en
    )


def export_failed(reason_zh: str, reason_en: str, *, field: str | None = None) -> ValidationFailed:
    """Build the error raised when data cannot be written faithfully."""
    return ValidationFailed(reason_zh, reason_en, code="export_failed", field=field)


def object_array(items: Sequence[Any]) -> NDArray[np.object_]:
    """A 1-D object array (np.array would try to iterate multi-part geometries)."""
    arr = np.empty(len(items), dtype=object)
    arr[:] = list(items)
    return arr
