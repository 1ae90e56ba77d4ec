"""Real headless Chromium against the real server on a fresh, small SQLite demo database.

The district is the demo's (same streets, grids, registry and accounts) with a month of 150
cases instead of 2,000: every path of the loop still appears, and it builds in ~20 s instead
of ~100 s. All browser tests run on one xdist worker (group "browser"), so it is built once.

The Debian `chromium` package is driven by the `playwright` package; no browser is ever
downloaded. Without /usr/bin/chromium the tests are skipped with the reason (CI installs it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port, wait_serving

CHROMIUM = os.environ.get("WANGGE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PASSWORD = "Wangge-Demo-2026"


BROWSER_DEMO_CASES = 150


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group("browser"))


def _need_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `apt-get install -y chromium` (CI installs it)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Build the demo district in a fresh SQLite file and serve it with uvicorn."""
    _need_browser()
    if os.environ.get("WANGGE_BROWSER_BASE_URL"):  # a server already running (development)
        yield os.environ["WANGGE_BROWSER_BASE_URL"]
        return
    base = tmp_path_factory.mktemp("web")
    env = {
        **os.environ,
        "WANGGE_DATABASE_URL": f"sqlite:///{base / 'demo.db'}",
        "WANGGE_UPLOAD_DIR": str(base / "uploads"),
        "WANGGE_DEMO_MODE": "true",
        "WANGGE_LOG_JSON": "false",
    }
    wangge = Path(sys.executable).parent / "wangge"
    subprocess.run(
        [str(wangge), "demo", "--no-serve", "--cases", str(BROWSER_DEMO_CASES)],
        env=env,
        check=True,
        capture_output=True,
        timeout=900,
    )
    port = free_port()
    log = open(base / "server.log", "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "wangge.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url + "/citizen", proc=proc, log=base / "server.log")
    except RuntimeError:
        proc.kill()
        raise
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture(scope="session")
def browser(demo_server: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def new_page(browser, demo_server):
    """Return a factory of pages in fresh contexts (one per user), closed after the test."""
    contexts = []

    def make(username: str | None = None, *, width: int = 1440, height: int = 900, **kw):
        ctx = browser.new_context(
            base_url=demo_server,
            viewport={"width": width, "height": height},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            **kw,
        )
        ctx.set_default_timeout(20_000)
        contexts.append(ctx)
        page = ctx.new_page()
        if username:
            login(page, username)
        return page

    yield make
    for ctx in contexts:
        ctx.close()


def login(page, username: str) -> None:
    """Log in through the login page."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#login-submit")


def shot(page, name: str, *, full_page: bool = False) -> Path:
    """Take a screenshot; it replaces the README's copy only when WANGGE_SCREENSHOTS is set.

    The README shows the full demo month, so its pictures are refreshed on purpose against a
    running `make demo` (docs/development.md), not by every run on the small test district.
    """
    target = (
        Path(os.environ["WANGGE_SCREENSHOTS"]) if os.environ.get("WANGGE_SCREENSHOTS") else None
    )
    folder = target or Path(tempfile.gettempdir()) / "wangge-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def jpeg(tmp_path: Path, name: str = "photo.jpg") -> Path:
    """Write a small real JPEG (the upload API checks the image)."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (320, 240), "#7a9cc6")
    ImageDraw.Draw(im).rectangle([40, 60, 200, 180], fill="#c44")
    path = tmp_path / name
    im.save(path, "JPEG")
    return path
