"""/web/api: the JSON the pages need beyond /api/v1, one module per concern, composed here.

The routers are included in the order their routes had when they were one module (FastAPI
tries routes in order): the map layers and cases (`map_api`), search (`search_api`), the
dashboard (`dashboard_api`), the citizen's report/track/act (`citizen_api`), the public
"my grid" page (`public_api`) and the running jobs (`jobs_api`). `wangge.main` includes
`router` where the single module's router was; the other /web/api routers (map points and
lines, grid card, cameras, department phone, registry forms) it includes on their own.
"""

from __future__ import annotations

from fastapi import APIRouter

from wangge.web import citizen_api, dashboard_api, jobs_api, map_api, public_api, search_api

router = APIRouter()
for _part in (map_api, search_api, dashboard_api, citizen_api, public_api, jobs_api):
    router.include_router(_part.router)
