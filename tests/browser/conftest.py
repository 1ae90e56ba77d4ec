"""Real headless Chromium against the real server on a fresh, small SQLite demo database.

The district is the demo's (same streets, grids, registry and accounts) with a month of 150
cases instead of 2,000: every path of the loop still appears, and it builds in ~20 s instead
of ~100 s. All browser tests run on one xdist worker (group "browser"), so it is built once.

The Debian `chromium` package is driven by the `playwright` package; no browser is ever
downloaded. Without /usr/bin/chromium the tests are skipped with the reason (CI installs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.notify_support import ALI_ID, ALI_SECRET, Gateways
from tests.servers import LIVE_SERVER_ENV, free_port, wait_serving

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


def need_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `apt-get install -y chromium` (CI installs it)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")


def server_env(base: Path, database: str, **extra: str) -> dict[str, str]:
    """The environment of a server on the SQLite file `base/database` (uploads beside it)."""
    return {
        **os.environ,
        "WANGGE_DATABASE_URL": f"sqlite:///{base / database}",
        "WANGGE_UPLOAD_DIR": str(base / "uploads"),
        "WANGGE_LOG_JSON": "false",
        **LIVE_SERVER_ENV,
        **extra,
    }


def wangge(env: dict[str, str], *args: str, timeout: float = 300) -> None:
    """Run one `wangge` command of this virtualenv on the database of `env`."""
    command = [str(Path(sys.executable).parent / "wangge"), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        )


@contextmanager
def serving(base: Path, env: dict[str, str]) -> Iterator[str]:
    """Serve the database of `env` with uvicorn on a free port; yield its URL, stop it after."""
    port = free_port()
    log_path = base / "server.log"
    with log_path.open("wb") as log:
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
            wait_serving(url + "/citizen", proc=proc, log=log_path)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="session")
def notify_gateways() -> Iterator[Gateways]:
    """Local WeCom/DingTalk robots and Aliyun SMS (their real HTTP formats) for the demo server."""
    gateways = Gateways()
    yield gateways
    gateways.close()


def delivery_env(gateways: Gateways) -> dict[str, str]:
    """The demo server delivers by itself as in production, to the local gateways; one failed
    send is final (a dead letter at once) so that the retry page can be walked."""
    return {
        "WANGGE_DELIVER_SECONDS": "0.5",
        "WANGGE_OUTBOX_MAX_ATTEMPTS": "1",
        "WANGGE_NOTIFY_SECRETS": json.dumps(gateways.secrets()),
        "WANGGE_SMS_GATEWAY": "aliyun",
        "WANGGE_SMS_ACCESS_KEY_ID": ALI_ID,
        "WANGGE_SMS_ACCESS_KEY_SECRET": ALI_SECRET,
        "WANGGE_SMS_SIGN_NAME": "网格中心",
        "WANGGE_SMS_TEMPLATE_CODE": "SMS_000001",
        "WANGGE_SMS_ENDPOINT": gateways.sms_endpoint,
    }


@pytest.fixture(scope="session")
def demo_server(
    tmp_path_factory: pytest.TempPathFactory, notify_gateways: Gateways
) -> Iterator[str]:
    """Build the demo district in a fresh SQLite file and serve it with uvicorn."""
    need_browser()
    if os.environ.get("WANGGE_BROWSER_BASE_URL"):  # a server already running (development)
        yield os.environ["WANGGE_BROWSER_BASE_URL"]
        return
    base = tmp_path_factory.mktemp("web")
    env = server_env(base, "demo.db", WANGGE_DEMO_MODE="true", **delivery_env(notify_gateways))
    wangge(env, "demo", "--no-serve", "--cases", str(BROWSER_DEMO_CASES), timeout=900)
    with serving(base, env) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@contextmanager
def page_factory(browser, base_url: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Yield a factory of pages in fresh contexts (one per user) on `base_url`, closed after."""
    contexts = []

    def make(username: str | None = None, *, width: int = 1440, height: int = 900, **kw):
        ctx = browser.new_context(
            base_url=base_url,
            viewport={"width": width, "height": height},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            **kw,
        )
        ctx.set_default_timeout(20_000)
        contexts.append(ctx)
        page = ctx.new_page()
        if username:
            login(page, username, password)
        return page

    try:
        yield make
    finally:
        for ctx in contexts:
            ctx.close()


@pytest.fixture
def new_page(browser, demo_server):
    """Return a factory of pages in fresh contexts (one per user), closed after the test."""
    with page_factory(browser, demo_server) as make:
        yield make


def login(page, username: str, password: str = PASSWORD) -> None:
    """Log in through the login page."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#login-submit")


def set_position(page, lon: float, lat: float) -> None:
    """Put a position in the phone report form's lon/lat boxes (an input event each).

    Set by script rather than typed: once in CI both boxes were empty at the submit right
    after `fill` (the page answered 请先获取位置; nothing in the page clears them), so the
    tests that need a position check it is there before they submit.
    """
    page.evaluate(
        """([x, y]) => {
          for (const [id, v] of [['lon', x], ['lat', y]]) {
            const box = document.getElementById(id);
            box.value = v;
            box.dispatchEvent(new Event('input', {bubbles: true}));
          }
        }""",
        [f"{lon:.6f}", f"{lat:.6f}"],
    )
    assert (page.input_value("#lon"), page.input_value("#lat")) == (f"{lon:.6f}", f"{lat:.6f}")


def refuse_storage(page, refuse: bool = True) -> None:
    """Make the phone's storage give up on every write (full, evicted), or work again.

    The write's IndexedDB transaction aborts without an error event, as a full disk does.
    """
    page.evaluate(
        """refuse => {
          window.realPut = window.realPut || IDBObjectStore.prototype.put;
          IDBObjectStore.prototype.put = refuse
            ? function () { this.transaction.abort(); return {}; } : window.realPut;
        }""",
        refuse,
    )


def submit_while_storage_refuses(page, submit: str, message: str, queued: str) -> None:
    """Press `submit` while the phone's storage refuses writes, then let it work again.

    The page must say so in `message` and queue nothing (`queued` still shows 0).
    """
    refuse_storage(page)
    page.click(submit)
    page.wait_for_selector(f"{message}.err")
    assert "未能保存到本机待发送队列" in page.inner_text(message)
    assert page.inner_text(queued) == "0"
    refuse_storage(page, False)


def wait_for_text(page, selector: str, text: str, *, timeout: float | None = None) -> None:
    """Wait until the element's text is `text`, checked every 100 ms (not per animation frame).

    On timeout the failure says what the element showed and what the page's messages and
    errors said, so a failure seen once in CI can be read without reproducing it.
    """
    errors: list[str] = []

    def seen_error(e: object) -> None:
        errors.append(str(e))

    page.on("pageerror", seen_error)
    try:
        page.wait_for_function(
            "([s, t]) => { const e = document.querySelector(s); return !!e && e.textContent === t; }",
            arg=[selector, text],
            polling=100,
            timeout=timeout,
        )
    except PlaywrightError:
        seen = page.evaluate(
            """s => ({shown: (document.querySelector(s) || {}).textContent,
                     messages: [...document.querySelectorAll('.msg')].map(e => e.textContent)
                       .filter(Boolean), online: navigator.onLine})""",
            selector,
        )
        raise AssertionError(f"{selector} is not {text!r}: {seen}; errors {errors}") from None
    finally:
        page.remove_listener("pageerror", seen_error)


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
