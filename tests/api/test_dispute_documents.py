# ruff: noqa: F811  (the `api` fixture is imported from test_disputes)
"""The 调解协议书 of a dispute: a scanned PDF uploaded as the agreement, and the agreement
generated as a PDF from the dispute's record (masked, or in full with a reason, audited)."""

from __future__ import annotations

import io

import pypdf
from sqlalchemy import func, select

from tests.api.test_disputes import (  # noqa: F401  (api is a fixture)
    FAR_SUPERVISOR,
    NOW,
    UNMASKER,
    api,
    outcome,
    problem,
    register,
    session_,
)
from tests.case_factories import SUPERVISOR
from wangge.audit.models import AuditEntry
from wangge.disputes.models import DisputeEvent
from wangge.uploads.models import Upload


def scanned_pdf() -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    c.drawString(72, 720, "Agreement scan")
    c.showPage()
    c.save()
    return out.getvalue()


def upload_pdf(api, did: int, data: bytes):
    files = {"file": ("协议书.pdf", data, "application/pdf")}
    return api(SUPERVISOR).post(f"/api/v1/disputes/{did}/agreement", files=files)


def text_of(pdf: bytes) -> str:
    return "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_a_scanned_pdf_is_kept_as_the_agreement_and_comes_back_as_it_was(api):
    d = register(api)
    assert session_(api, d["id"]).status_code == 201
    data = scanned_pdf()
    r = upload_pdf(api, d["id"], data)
    assert r.status_code == 200, r.text
    doc = api(SUPERVISOR).get(r.json()["agreement"]["url"])
    assert doc.status_code == 200 and doc.headers["content-type"] == "application/pdf"
    assert doc.content == data
    r = outcome(api, d["id"], outcome="settled", note="双方同意各让一步")
    assert r.status_code == 200 and r.json()["state"] == "settled"


def test_a_truncated_pdf_is_refused_and_nothing_is_written(api, session):
    d = register(api)
    assert session_(api, d["id"]).status_code == 201
    uploads = session.scalar(select(func.count(Upload.id)))
    events = session.scalar(select(func.count(DisputeEvent.id)))
    body = problem(upload_pdf(api, d["id"], scanned_pdf()[:300]), 422, "bad_pdf")
    assert "PDF" in body["detail"] and "truncated" in body["detail_en"]
    assert session.scalar(select(func.count(Upload.id))) == uploads
    assert session.scalar(select(func.count(DisputeEvent.id))) == events
    assert api(SUPERVISOR).get(f"/api/v1/disputes/{d['id']}").json()["agreement"] is None


def test_the_generated_agreement_is_masked_and_in_full_only_with_a_reason_audited(api, session):
    d = register(api)
    assert session_(api, d["id"]).status_code == 201
    assert outcome(api, d["id"], outcome="settled", note="楼上修复防水，赔偿800元",
                   no_agreement_reason="当场口头协议").status_code == 200  # fmt: skip
    url = api(SUPERVISOR).get(f"/api/v1/disputes/{d['id']}").json()["agreement_pdf_url"]
    r = api(SUPERVISOR).get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = text_of(r.content)
    assert "人民调解协议书" in text and "邻里纠纷" in text and "赔偿800元" in text
    assert "调解成功" in text and "张**" in text
    assert "张三丰" not in text and "13812345678" not in text and "110108198506123015" not in text

    # in full: personal.unmask and a reason, and the read is audited
    problem(api(SUPERVISOR).get(url, params={"reason": "签署协议"}), 403, "forbidden")
    r = api(UNMASKER).get(url, params={"reason": "打印协议书供双方签署"})
    assert r.status_code == 200, r.text
    text = text_of(r.content)
    assert "张三丰" in text and "13812345678" in text
    audited = session.scalars(
        select(AuditEntry.reason).where(
            AuditEntry.action == "personal.unmask", AuditEntry.object_id == str(d["id"])
        )
    ).all()
    assert audited == ["打印协议书供双方签署"]
    # another community's worker cannot fetch it
    assert api(FAR_SUPERVISOR).get(url).status_code == 404


def test_the_console_counts_by_grid_or_community_and_offers_the_register_form(api):
    d = register(api)
    page = api(SUPERVISOR).get("/console/disputes", params={"level": "grid"})
    assert page.status_code == 200, page.text
    assert f'data-grid="{d["grid_code"]}"' in page.text and 'data-level="grid"' in page.text
    assert 'id="dispute-register-form"' in page.text
    page = api(SUPERVISOR).get("/console/disputes")
    assert f'data-community="{d["community_code"]}"' in page.text
    page = api(SUPERVISOR).get(f"/console/disputes/{d['id']}")
    assert d["agreement_pdf_url"] in page.text


def test_the_demo_disputes_lie_in_their_grids_at_every_step_and_are_counted(api, session):
    from collections import Counter

    from wangge.cases.deadlines import SHANGHAI
    from wangge.demo.disputes import build_dispute_demo
    from wangge.disputes.models import Dispute

    assert build_dispute_demo(session, "110108", seed=7, now=NOW) == 18
    rows = session.scalars(select(Dispute)).all()
    states = Counter(d.state for d in rows)
    assert {"registered", "mediating", "followed_up"} <= set(states)
    assert states["settled"] + states["failed"] + states["transferred"] + states["followed_up"] > 5
    listed = api(UNMASKER).get("/api/v1/disputes", params={"limit": 50}).json()["items"]
    assert listed and all(d["community_code"] == "110108001001" for d in listed)
    first = api(UNMASKER).get(f"/api/v1/disputes/{listed[0]['id']}").json()
    assert first["history"][0]["action"] == "register" and all(
        "*" in p["name"] for p in first["parties"]
    )
    month = NOW.astimezone(SHANGHAI).strftime("%Y-%m")
    stats = api(UNMASKER).get("/api/v1/disputes/stats", params={"month": month}).json()
    assert stats["total"]["registered"] >= 1
