"""`wangge catalogue pipelines`: the local pipeline line classes installed once per county."""

from __future__ import annotations

from typer.testing import CliRunner

from tests.case_factories import build_world
from wangge.cli import app
from wangge.db import make_engine, session_factory
from wangge.dbadmin import upgrade
from wangge.registry.components import catalogue_for

runner = CliRunner()


def test_the_command_installs_the_line_classes_once_and_lists_them(tmp_path):
    url = f"sqlite:///{tmp_path / 'pipes.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_factory(engine)() as s:
        build_world(s)
        s.commit()
    first = runner.invoke(
        app, ["catalogue", "pipelines", "--county", "110108", "--database-url", url]
    )
    assert first.exit_code == 0, first.output
    assert "新增管线小类 9 个" in first.output and "燃气管线" in first.output
    again = runner.invoke(
        app, ["catalogue", "pipelines", "--county", "110108", "--database-url", url]
    )
    assert again.exit_code == 0 and "新增管线小类 0 个" in again.output
    with session_factory(engine)() as s:
        gas = catalogue_for(s, "110108").get("2105")
        assert gas is not None and gas.is_line and gas.network == "gas"
    engine.dispose()
