"""Every audit action the platform writes has a Chinese and an English name on the audit page."""

from __future__ import annotations

import pytest

from wangge.audit.labels import action_label
from wangge.cases.vocabulary import Action

RECORDS = ("person", "building", "room", "component", "organisation")
SHEETS = ("people", "buildings", "rooms", "components", "organisations")
CODES = [
    *(f"case.{a.value}" for a in Action),
    *(f"registry.{r}.{v}" for r in RECORDS for v in ("create", "update", "delete", "merge", "verify")),
    *(f"registry.{k}.{v}" for k in SHEETS for v in ("import", "export")),
    *(f"dispute.{a}" for a in ("register", "session", "agreement", "outcome", "follow_up")),
    "login.ok", "login.failed", "login.locked", "logout.everywhere", "password.change",
    "user.create", "user.deactivate", "user.reactivate", "user.unlock", "user.password_reset",
    "token.revoke", "role.permissions", "post.assign", "post.remove", "audit.verify", "audit.view",
    "personal.unmask", "export.download", "case.export", "case.callback", "case.hotline_reply",
    "evaluation.publish", "evaluation.republish", "grid_version.activate", "grid_version.divide",
    "grid_version.generate", "grid_version.import", "division.import", "department.create",
    "department.update", "department.import", "department.deactivate", "department.reactivate",
    "category.create", "category.update", "catalogue.upgrade", "routing_rule.set",
    "routing_rule.delete", "line.create", "line.update", "line.delete", "line.enable",
    "line.disable", "assignment.create", "assignment.end", "outbox.retry",
    "registry.component.bulk_load", "registry.employer_list.import",
]  # fmt: skip


@pytest.mark.parametrize("code", CODES)
def test_every_written_action_is_named_in_both_languages(code):
    zh, en = action_label(code, "zh"), action_label(code, "en")
    assert zh and en and zh != code and "·" in zh
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in en), en  # English has no Chinese


def test_a_code_with_an_unknown_word_is_shown_as_it_is():
    assert action_label("registry.person.teleport") is None
    assert action_label("case.accept") == "案卷·受理"
    assert action_label("registry.people.export") == "基础数据·人员·导出"
