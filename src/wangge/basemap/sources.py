"""The basemap the settings choose: checked at start-up, described to the pages, allowed by CSP.

Every source is Web Mercator (EPSG:3857), Leaflet's default. 天地图 is used through its `_w`
(Web Mercator) WMTS services; its coordinates are CGCS2000, the platform's own, so nothing is
shifted. A GCJ-02 source (高德, 腾讯) needs WANGGE_BASEMAP_CRS=GCJ02, which shifts grids and
cases into GCJ-02 on the pages that draw over the basemap.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    from wangge.config import Settings

TIANDITU_HOST = "https://t{s}.tianditu.gov.cn"
TIANDITU_SUBDOMAINS = "01234567"
# Base layer → its annotation layer (Chinese labels), as 天地图 pairs them.
TIANDITU_ANNOTATION = {"vec": "cva", "img": "cia"}
TIANDITU_ATTRIBUTION = "© 天地图 国家地理信息公共服务平台"
LOCAL_TILES = "/tiles/{z}/{x}/{y}"


def mbtiles_path(settings: Settings) -> Path:
    """Return the MBTiles file served at /tiles (default: beside the upload folder)."""
    if settings.basemap_mbtiles is not None:
        return Path(settings.basemap_mbtiles)
    return Path(settings.upload_dir).parent / "basemap.mbtiles"


def basemap_kind(settings: Settings) -> str:
    """Return the source in use: tianditu, xyz, wmts, mbtiles or none ("auto" resolved)."""
    if settings.basemap != "auto":
        return settings.basemap
    if settings.basemap_url:
        return "xyz"
    return "mbtiles" if mbtiles_path(settings).is_file() else "none"


def _bad(zh: str, en: str) -> ValueError:
    return ValueError(f"底图配置有误：{zh} / basemap settings: {en}")


def check_basemap(settings: Settings) -> None:
    """Refuse a basemap configured by halves (the map would show grey with no reason given)."""
    kind = basemap_kind(settings)
    url = settings.basemap_url or ""
    if kind == "tianditu" and not settings.basemap_tianditu_key.strip():
        raise _bad(
            "使用天地图需要设置 WANGGE_BASEMAP_TIANDITU_KEY（天地图密钥 tk）",
            "WANGGE_BASEMAP=tianditu needs WANGGE_BASEMAP_TIANDITU_KEY (the 天地图 key tk)",
        )
    if kind in ("xyz", "wmts"):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _bad(
                f"WANGGE_BASEMAP_URL 应为 http(s):// 开头的地址：{url!r}",
                f"WANGGE_BASEMAP_URL must be an http(s):// address: {url!r}",
            )
    if kind == "xyz" and not all(p in url for p in ("{z}", "{x}", "{y}")):
        raise _bad(
            f"XYZ 地址须含 {{z}}、{{x}}、{{y}}：{url!r}",
            f"an XYZ URL needs {{z}}, {{x}} and {{y}}: {url!r}",
        )
    if kind == "xyz" and "{s}" in url and not settings.basemap_subdomains:
        raise _bad(
            "地址含 {s} 时须设置 WANGGE_BASEMAP_SUBDOMAINS（如 abc）",
            "a URL with {s} needs WANGGE_BASEMAP_SUBDOMAINS (e.g. abc)",
        )
    if kind == "wmts" and not settings.basemap_wmts_layer:
        raise _bad(
            "WMTS 须设置图层 WANGGE_BASEMAP_WMTS_LAYER", "WMTS needs WANGGE_BASEMAP_WMTS_LAYER"
        )
    if settings.basemap == "mbtiles" and not mbtiles_path(settings).is_file():
        raise _bad(
            f"MBTiles 文件不存在：{mbtiles_path(settings)}（用 wangge basemap render 生成）",
            f"the MBTiles file {mbtiles_path(settings)} does not exist "
            "(make it with `wangge basemap render`)",
        )


def _tianditu(settings: Settings, layer: str) -> dict[str, Any]:
    query = {
        "SERVICE": "WMTS",
        "REQUEST": "GetTile",
        "VERSION": "1.0.0",
        "LAYER": layer,
        "STYLE": "default",
        "TILEMATRIXSET": "w",
        "FORMAT": "tiles",
        "tk": settings.basemap_tianditu_key.strip(),
    }
    url = f"{TIANDITU_HOST}/{layer}_w/wmts?{urlencode(query)}"
    return {
        "url": url + "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}",
        "subdomains": TIANDITU_SUBDOMAINS,
        "maxZoom": settings.basemap_max_zoom,
        "maxNativeZoom": 18,
        "attribution": settings.basemap_attribution or TIANDITU_ATTRIBUTION,
    }


def _wmts_url(settings: Settings) -> str:
    query = urlencode(
        {
            "SERVICE": "WMTS",
            "REQUEST": "GetTile",
            "VERSION": "1.0.0",
            "LAYER": settings.basemap_wmts_layer,
            "STYLE": settings.basemap_wmts_style,
            "TILEMATRIXSET": settings.basemap_wmts_matrix_set,
            "FORMAT": settings.basemap_wmts_format,
        }
    )
    base = settings.basemap_url or ""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}{query}&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}"


def page_basemap(settings: Settings, *, logged_in: bool) -> dict[str, Any] | None:
    """Return what the pages' `WG.addBasemap` draws (None: no basemap on this page).

    The 天地图 key goes only into pages of logged-in users: the public citizen page shows the
    map without it.
    """
    kind = basemap_kind(settings)
    layers: list[dict[str, Any]]
    if kind == "tianditu":
        if not logged_in:
            return None
        style = settings.basemap_tianditu_style
        layers = [_tianditu(settings, style), _tianditu(settings, TIANDITU_ANNOTATION[style])]
        layers[1]["attribution"] = ""  # once is enough
    elif kind == "xyz":
        layers = [
            {
                "url": settings.basemap_url,
                "subdomains": settings.basemap_subdomains,
                "maxZoom": settings.basemap_max_zoom,
                "attribution": settings.basemap_attribution,
            }
        ]
    elif kind == "wmts":
        layers = [
            {
                "url": _wmts_url(settings),
                "maxZoom": settings.basemap_max_zoom,
                "attribution": settings.basemap_attribution,
            }
        ]
    elif kind == "mbtiles":
        info = local_tiles_info(mbtiles_path(settings))
        if info is None:
            return None
        layers = [
            {
                "url": f"{LOCAL_TILES}.{info['format']}",
                "maxZoom": settings.basemap_max_zoom,
                "maxNativeZoom": min(info["maxzoom"], settings.basemap_max_zoom),
                # Leaflet asks for no tile outside the file's box (they would all be 404).
                "bounds": info["bounds"],
                "attribution": settings.basemap_attribution or info["attribution"],
            }
        ]
    else:
        return None
    config: dict[str, Any] = {"kind": kind, "crs": settings.basemap_crs, "layers": layers}
    if kind == "mbtiles":  # beyond the file's box: the colour its tiles give outside the county
        from wangge.basemap.render import OUTSIDE

        config["background"] = OUTSIDE
    return config


def local_tiles_info(path: Path) -> dict[str, Any] | None:
    """Return the format, zoom range and attribution of an MBTiles file (None: unreadable)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return _info(str(path), stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _info(path: str, _mtime: int) -> dict[str, Any] | None:
    import sqlite3

    from wangge.basemap.mbtiles import MBTiles

    store = MBTiles(Path(path))
    try:
        meta = store.metadata()
    except sqlite3.Error:
        return None
    finally:
        store.close()
    return {
        "format": meta.get("format", "png").lower(),
        "minzoom": read_zoom(meta.get("minzoom"), 0),
        "maxzoom": read_zoom(meta.get("wangge_render_maxzoom") or meta.get("maxzoom"), 18),
        "attribution": meta.get("attribution", ""),
        "bounds": _bounds(meta.get("bounds")),
    }


def _bounds(value: str | None) -> list[list[float]] | None:
    """Read the metadata's "west,south,east,north" as Leaflet's [[south, west], [north, east]]."""
    try:
        west, south, east, north = (float(v) for v in (value or "").split(","))
    except ValueError:
        return None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        return None
    return [[south, west], [north, east]]


def read_zoom(value: str | None, default: int) -> int:
    """Read a zoom of the file's metadata (another tool's file may hold anything there)."""
    try:
        return max(0, min(22, int(value))) if value is not None else default
    except ValueError:
        return default


def tile_hosts(settings: Settings) -> list[str]:
    """Return the CSP host sources of the configured external tile servers."""
    config = page_basemap(settings, logged_in=True)
    hosts: list[str] = []
    for layer in (config or {}).get("layers", []):
        parts = urlsplit(layer["url"])
        if not parts.netloc:
            continue  # our own /tiles
        host = parts.hostname or ""
        if "{s}" in host:  # t{s}.tianditu.gov.cn → *.tianditu.gov.cn (CSP wildcards lead)
            host = "*." + host.split(".", 1)[1]
        port = f":{parts.port}" if parts.port else ""
        source = f"{parts.scheme}://{host}{port}"
        if source not in hosts:
            hosts.append(source)
    return hosts
