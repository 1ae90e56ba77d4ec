"""Export a grid version to the files GIS staff use."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from wangge.common.gisio import Feature, write_features
from wangge.errors import NotFound
from wangge.grids.service import KIND_ZH, active_version, get_version, version_grids


def export_version(
    session: Session,
    target: Path,
    *,
    version_id: int | None = None,
    county: str | None = None,
    layer: str = "social",
    crs: str = "EPSG:4490",
    encoding: str = "UTF-8",
) -> int:
    """Write the grids of a version (default: the active one) with Chinese attribute names."""
    if version_id is not None:
        version = get_version(session, version_id)
    else:
        found = active_version(session, county or "", layer) if county else None
        if found is None:
            raise NotFound(
                "请指定版本，或指定区县和图层以导出现行版本",
                "give a version id, or a county and layer to export the active version",
            )
        version = found
    features = [
        Feature(
            number=i,
            geometry=g.geom,
            properties={
                "网格编码": g.code,
                "网格名称": g.name,
                "网格类型": KIND_ZH[g.kind],
                "社区编码": g.community_code,
                "面积": round(g.area_m2 or 0.0, 2),
                "户数": g.households,
                "人口": g.population,
                "用地类别": g.land_use,
                "责任主体": g.responsible_party,
                "初始日期": g.valid_from.isoformat() if g.valid_from else None,
                "终止日期": g.valid_to.isoformat() if g.valid_to else None,
            },
        )
        for i, g in enumerate(version_grids(session, version.id), 1)
    ]
    write_features(target, features, crs=crs, encoding=encoding, layer=f"grids_v{version.number}")
    return len(features)
