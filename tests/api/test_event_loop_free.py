"""Endpoints that read a file or a form asynchronously do their blocking work (database, image
decoding, thousands of Excel rows, a whole case report) in the thread pool: while one of them
works, the process's event loop goes on answering everyone else (issue 15).

Each test holds the endpoint's work on an event and asks /healthz meanwhile; with the work on
the event loop, /healthz waited for it (and, with the work waiting, forever)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from typing import Any

import pytest

from wangge.disputes import service as dispute_service
from wangge.errors import ValidationFailed
from wangge.open311 import views as open311_views
from wangge.registry import views as registry_views
from wangge.uploads import views as upload_views

WAIT_S = 30  # only reached when the event loop is blocked


class Held:
    """Stands in for an endpoint's blocking work: it waits until the test releases it."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.entered, self.release, self.left = (threading.Event() for _ in range(3))

    def __call__(self, *_args: Any, **_kwargs: Any) -> Any:
        self.entered.set()
        try:
            self.release.wait(WAIT_S)
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer
        finally:
            self.left.set()


def _health_while_held(client, send: Callable[[], Any], work: Held) -> tuple[int, bool]:  # type: ignore[no-untyped-def]
    """Start `send` in a thread, wait until its work is inside the endpoint, ask /healthz;
    return its status and whether the work was still held when it answered."""
    sent = threading.Thread(target=send)
    sent.start()
    try:
        assert work.entered.wait(WAIT_S), "the request never reached its work"
        status = client.get("/healthz").status_code
        still_held = not work.left.is_set()
    finally:
        work.release.set()
        sent.join(WAIT_S)
    return status, still_held


def _excel_import(client) -> None:  # type: ignore[no-untyped-def]
    files = {"file": ("楼栋.xlsx", io.BytesIO(b"PK..."), "application/octet-stream")}
    client.post("/api/v1/registry/buildings/import", files=files)


def _open311(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/open311/v2/requests.json", data={"api_key": "k", "service_code": "E0102"})


def _photo(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/api/v1/uploads", files={"file": ("p.jpg", io.BytesIO(b"\xff\xd8"), "image/jpeg")})


def _agreement(client) -> None:  # type: ignore[no-untyped-def]
    files = {"file": ("协议书.jpg", io.BytesIO(b"\xff\xd8"), "image/jpeg")}
    client.post("/api/v1/disputes/1/agreement", files=files)


CASES = {
    "mediation agreement": (dispute_service, "check_agreement_allowed", None, _agreement),
    "excel import": (registry_views, "import_workbook", {"imported": 0}, _excel_import),
    "open311 report": (open311_views, "guarded", None, _open311),
    # Two bytes are no image: the real work refuses them, and so does the stand-in (a None
    # would fail in the view and print a server error from the request's thread).
    "photo upload": (
        upload_views,
        "save_upload",
        ValidationFailed("不是图片", "not an image"),
        _photo,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_event_loop_answers_while_a_file_or_form_endpoint_works(web, monkeypatch, case):
    client, _ = web
    module, name, answer, send = CASES[case]
    work = Held(answer)
    monkeypatch.setattr(module, name, work)
    assert _health_while_held(client, lambda: send(client), work) == (200, True)
