"""Installing the recommended local pipeline line classes (给水管线 …) in a county's catalogue.

GB/T 30428.2 lists the 井盖 and boxes of each network as point classes but no class for the
pipelines themselves, so these are local extensions (大类 21, `wangge/data/pipeline_classes.tsv`),
marked as lines with their network. Installing is idempotent: a class already there under the
same name is kept; a code taken by another local class is refused with both names.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from wangge.auth.principal import Principal
from wangge.errors import Conflict
from wangge.registry.catalogue import DEFAULT_SCHEME, Catalogue, Scheme, pipeline_line_classes
from wangge.registry.components import add_extension, catalogue_for
from wangge.registry.models_components import NETWORKS


def install_pipeline_classes(
    session: Session, principal: Principal, county_code: str, scheme: Scheme = DEFAULT_SCHEME
) -> list[str]:
    """Add the local pipeline line classes missing from the county; return the codes added."""
    principal.require("registry.write")
    catalogue = catalogue_for(session, county_code, scheme)
    added: list[str] = []
    for line in pipeline_line_classes():
        code = line.code(scheme)
        there = catalogue.get(code)
        if there is not None:
            if there.name != line.name or not there.is_line:
                raise Conflict(
                    f"本地小类 {code} 已用作“{there.name}”，不能再作为“{line.name}”；"
                    "请先核对本区县的扩展部件",
                    f"local class {code} is already {there.name!r}, so it cannot become"
                    f" {line.name!r}; check the county's extension classes",
                    code="class_code_taken", field="code",
                )  # fmt: skip
            continue
        add_extension(
            session, principal, county_code, code, line.name, scheme,
            network=line.network, geometry="line",
        )  # fmt: skip
        added.append(code)
    return added


def pipeline_classes(catalogue: Catalogue) -> list[dict[str, Any]]:
    """The catalogue's pipeline classes (lines and 井盖 …) by network, lines first."""
    rows = [m for m in catalogue if m.network or m.is_line]
    rows.sort(key=lambda m: (not m.is_line, m.network or "~", m.code))
    return [
        {
            "code": m.code, "name": m.name, "network": m.network,
            "network_zh": NETWORKS.get(m.network or "", "多类"), "geometry": m.geometry,
            "extension": m.extension,
        }
        for m in rows
    ]  # fmt: skip
