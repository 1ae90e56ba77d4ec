"""Where grid workers walked (巡查轨迹) is theirs: only patrol staff and leaders read it, and
only of grids in their area; the public and other areas get nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.case_factories import (
    CITIZEN,
    FAR_SUPERVISOR,
    HANDLER,
    LAT,
    LEADER,
    LON,
    SUPERVISOR,
    T0,
)
from wangge.auth.principal import ANONYMOUS
from wangge.cases.models import PatrolPoint


def test_a_grids_tracks_are_read_by_its_patrol_staff_and_leaders_only(patrol_api, session):
    client, holder = patrol_api
    pid = client.post("/api/v1/patrols", json={"lon": LON, "lat": LAT}).json()["id"]
    at = (T0 + timedelta(minutes=70)).isoformat()
    point = {"lon": LON + 0.0001, "lat": LAT, "at": at}
    assert client.post(f"/api/v1/patrols/{pid}/points", json=[point]).status_code == 200
    grid = session.scalar(select(PatrolPoint.grid_id).where(PatrolPoint.patrol_id == pid))
    url, day = f"/api/v1/patrols/tracks/{grid}", {"day": T0.date().isoformat()}

    def read(who):  # type: ignore[no-untyped-def]
        holder["who"] = who
        return client.get(url, params=day)

    for who in (SUPERVISOR, LEADER):
        r = read(who)
        assert r.status_code == 200, r.text
        assert len(r.json()["features"][0]["geometry"]["coordinates"]) == 2
    assert read(ANONYMOUS).status_code == 401
    for who in (CITIZEN, HANDLER):  # the public and departments: no patrol permission
        refused = read(who)
        assert refused.status_code == 403 and "patrol.read" in refused.text
    # a supervisor of another community: the grid is not in his area
    assert read(FAR_SUPERVISOR).status_code == 404
    holder["who"] = SUPERVISOR
    assert client.get("/api/v1/patrols/tracks/999999", params=day).status_code == 404
