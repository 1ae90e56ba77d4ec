"""`wangge rule list|add|disable` on a database made by `wangge init`."""

from __future__ import annotations

from typer.testing import CliRunner

from wangge.cli import app

runner = CliRunner()


def _run(db: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [*args, "--database-url", db], catch_exceptions=False)


def test_rules_are_listed_added_refused_as_twins_and_disabled(tmp_path):
    db = f"sqlite:///{tmp_path / 'rules.db'}"
    init = _run(db, "init", "--county", "110108", "--name", "海淀区")
    assert init.exit_code == 0, init.output
    assert "response rules 7" in init.output
    listed = _run(db, "rule", "list", "--county", "110108")
    assert listed.exit_code == 0 and listed.output.count("online") == 3
    args = ("rule", "add", "--county", "110108", "--source", "video", "--stage", "file")
    added = _run(db, *args, "--hours", "2", "--name", "视频立案 2 小时", "--working-hours")
    assert added.exit_code == 0, added.output
    rule_id = added.output.split()[1]
    twin = _run(db, *args, "--hours", "3", "--name", "又一条")
    assert twin.exit_code != 0 and "already has active rule" in " ".join(twin.output.split())
    bad = _run(db, "rule", "add", "--county", "110108", "--source", "fax", "--stage", "file",
               "--hours", "2", "--name", "x")  # fmt: skip
    assert bad.exit_code != 0 and "source" in bad.output
    assert _run(db, "rule", "disable", rule_id).exit_code == 0
    # Rich wraps long names in a narrow terminal: look for the only rule of the video channel.
    assert "video" not in _run(db, "rule", "list", "--county", "110108").output
    assert "video" in _run(db, "rule", "list", "--county", "110108", "--all").output
