"""Content-Security-Policy of the pages: images only from here and the configured tile hosts.

The policy governs images alone (`img-src`): the pages' own scripts and styles are inline in
places, and tightening those is a change of its own. A policy another layer already set keeps
its directives; the tile hosts are added to its `img-src`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_IMG_SRC = ("'self'", "data:", "blob:")


def img_src(hosts: list[str]) -> str:
    """Return the img-src directive for these tile hosts."""
    return "img-src " + " ".join([*BASE_IMG_SRC, *hosts])


def merged(existing: str, directive: str) -> str:
    """Return a policy with the tile hosts in its img-src (added when it has none)."""
    parts = [p.strip() for p in existing.split(";") if p.strip()]
    extra = directive.split()[1:]
    for i, part in enumerate(parts):
        if part.split()[0].lower() == "img-src":
            have = part.split()
            parts[i] = " ".join(have + [s for s in extra if s not in have])
            return "; ".join(parts)
    return "; ".join([*parts, directive])


class ImagePolicy:
    """ASGI middleware: add the img-src policy to every HTML response."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.directive = img_src(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # FastAPI's /docs and /redoc load their pictures from their CDNs: not our pages.
        if scope["type"] != "http" or scope["path"].startswith(("/docs", "/redoc")):
            await self.app(scope, receive, send)
            return

        async def send_with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    old = next(
                        (v.decode() for k, v in headers if k.lower() == b"content-security-policy"),
                        None,
                    )
                    value = self.directive if old is None else merged(old, self.directive)
                    headers = [
                        (k, v) for k, v in headers if k.lower() != b"content-security-policy"
                    ]
                    headers.append((b"content-security-policy", value.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_policy)
