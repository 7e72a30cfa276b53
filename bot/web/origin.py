"""Is a request from one of our own pages? For every state-changing request a browser can send.

A page on another origin (another port of the same host included, which browsers call
"same-site") may make a browser post a form with the resident's cookies. Browsers say where a
request comes from in ``Sec-Fetch-Site`` and ``Origin``; a request that names another origin in
either is refused. Programs that are not browsers (curl, the tests) send neither and are let in:
they carry no one else's cookies.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

CROSS_SITE = "请从本网站的页面操作：来自其他网站的请求已拒绝。"


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, or None if it has none."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: web.Request, public_url: str | None = None) -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in {"same-origin", "none"}:
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = {f"{request.scheme}://{request.host}".lower()}
    if public_url and (public := origin_of(public_url)):
        allowed.add(public)
    return origin.strip().lower() in allowed
