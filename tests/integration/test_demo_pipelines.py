"""The demo district has long drainage, gas and heating mains, each owned by a demo department
and located in every grid it crosses (issue 18 item 5)."""

from __future__ import annotations

from sqlalchemy import select

from wangge.auth.principal import LOCAL_OPERATOR
from wangge.config import Settings
from wangge.demo import build_demo
from wangge.departments.models import Department
from wangge.registry import components as svc
from wangge.registry.component_grids import grid_codes
from wangge.registry.models import Component, ComponentGrid


def test_the_demo_has_owned_pipelines_crossing_several_grids(session, tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}", upload_dir=tmp_path)
    build_demo(session, settings, cases=10)
    mains = session.scalars(
        select(Component).where(Component.owner_department_code.is_not(None))
    ).all()
    assert {c.network for c in mains} == {"drainage", "gas", "heat"}
    for main in mains:
        assert main.geom.geom_type == "LineString"
        department = session.get(Department, main.owner_department_code)
        assert department is not None and department.is_active
        codes = grid_codes(session, main)["social"]
        assert len(codes) >= 3, (main.name, codes)
    # Listing by a crossed grid other than the anchor's finds the main, as a grid worker would.
    for main in mains:
        others = session.scalars(
            select(ComponentGrid.grid_id).where(
                ComponentGrid.component_id == main.id, ComponentGrid.grid_id != main.grid_id
            )
        ).all()
        assert others
        for grid_id in others:
            listed = session.scalars(svc.components_query(LOCAL_OPERATOR, grid_id=grid_id))
            assert main in listed.all()
