"""Every JSON request body refuses fields it does not define (issue 14, item 11).

`POST /api/v1/cases {"caller_name": …}` answered 201 and dropped the name; the registry already
answered 422. Now every body model derives from `common.schemas.InputModel`; this walk over the
app's routes keeps it so for routes added later.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator

from fastapi.routing import APIRoute
from pydantic import BaseModel

from wangge.config import Settings
from wangge.main import create_app

# Free-form bodies by design: a map of search filters the page's own form builds.
FREE_FORM = {"/console/registry/{kind}/search"}


def _routes(routes: typing.Iterable[typing.Any]) -> Iterator[APIRoute]:
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):  # an included router (FastAPI ≥ 0.130)
            yield from _routes(r.original_router.routes)
        elif hasattr(r, "routes"):
            yield from _routes(r.routes)


def _models(annotation: typing.Any) -> Iterator[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield annotation
        for f in annotation.model_fields.values():
            yield from _models(f.annotation)
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def test_every_body_model_of_every_route_refuses_unknown_fields(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    bodies, lax = 0, []
    for route in _routes(app.routes):
        for param in route.dependant.body_params:
            models = list(_models(param.field_info.annotation))
            bodies += bool(models)
            lax += [
                f"{sorted(route.methods)} {route.path}: {m.__name__}"
                for m in models
                if m.model_config.get("extra") != "forbid"
            ]
            if not models and type(param.field_info).__name__ == "Body":
                assert route.path in FREE_FORM, f"{route.path} takes a body that is not a model"
    assert bodies > 30  # the walk really sees the routes (cases, registry, auth, web, grids)
    assert lax == []
