"""The command line starts quickly: `import wangge.cli` loads no database, web or GIS library.

Issue 19: `wangge grid divide` on a county must finish in under 2 s, start-up included. These
tests guard what makes that true (no timing here: bench/bench_divide_cli.py measures it).
"""

import subprocess
import sys

from sqlalchemy import create_engine

from wangge.dbadmin import head_revision, shipped_head

# Imported by the commands that need them, never by `import wangge.cli` (nor by `--help`).
LAZY = (
    "fastapi",
    "starlette",
    "uvicorn",
    "wangge.main",
    "sqlalchemy",
    "alembic",
    "wangge.config",
    "numpy",
    "shapely",
    "pyogrio",
    "pyproj",
    "openpyxl",
    "reportlab",
    "matplotlib",
)


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('MODULES', ' '.join(sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    return set(done.stdout.rpartition("MODULES ")[2].split())


def test_importing_the_command_line_loads_none_of_the_heavy_libraries():
    loaded = _loaded_after("import wangge.cli")
    assert "wangge.cli_divide" in loaded  # the commands are registered
    assert sorted(loaded & set(LAZY)) == []


def test_help_of_grid_divide_loads_none_of_the_heavy_libraries():
    code = (
        "from wangge.cli import app\n"
        "try:\n"
        "    app(['grid', 'divide', '--help'], prog_name='wangge')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
    )
    loaded = _loaded_after(code)
    assert sorted(loaded & (set(LAZY) - {"wangge.config"})) == []


def test_the_shipped_head_read_from_the_files_is_alembics():
    # Commands skip Alembic when the database is at this revision: it must be Alembic's head.
    assert shipped_head() is not None
    assert shipped_head() == head_revision(create_engine("sqlite://"))
