"""Photo checks and the public copy: Pillow does the decoding; we only decide what to keep."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from wangge.errors import ValidationFailed

try:  # HEIC from iPhones, where the optional library is installed
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC = True
except ImportError:  # pragma: no cover - depends on the environment
    HEIC = False

ALLOWED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heic"}
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 0x9003
_EXIF_IFD = 0x8769


@dataclass(frozen=True)
class ImageInfo:
    format: str
    content_type: str
    width: int
    height: int
    gps: tuple[float, float] | None  # (lon, lat) in WGS84 as the phone wrote it
    taken_at: datetime | None


def _bad(zh: str, en: str, code: str = "bad_image") -> ValidationFailed:
    return ValidationFailed(zh, en, code=code, field="file")


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Check that the bytes are a supported photo of sane size; read its EXIF position."""
    if len(data) > max_bytes:
        raise _bad(
            f"文件过大：{len(data) // 1024} KB，上限 {max_bytes // 1024} KB",
            f"file too large: {len(data) // 1024} KB, limit {max_bytes // 1024} KB",
            "too_large",
        )
    if not data:
        raise _bad("文件为空", "empty file")
    try:
        with warnings.catch_warnings():
            # Pillow warns above its own limit and raises at twice it; we want a hard limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt = img.format or ""
            if fmt not in ALLOWED:
                raise _bad(
                    f"不支持的图片格式 {fmt or '未知'}，请上传 JPEG、PNG、WebP 或 HEIC",
                    f"unsupported image format {fmt or 'unknown'}; use JPEG, PNG, WebP or HEIC",
                    "unsupported_type",
                )
            if img.width * img.height > max_pixels:
                raise _bad(
                    f"图片像素过多（{img.width}×{img.height}）",
                    f"too many pixels ({img.width}×{img.height})",
                    "too_many_pixels",
                )
            img.verify()  # checks the data without decoding all of it
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise _bad("不是有效的图片文件", f"not a valid image ({exc.__class__.__name__})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise _bad("图片文件已损坏", f"corrupt image ({exc.__class__.__name__})") from None
    img = Image.open(io.BytesIO(data))  # verify() leaves the image unusable
    gps, taken = _exif(img)
    return ImageInfo(fmt, ALLOWED[fmt], img.width, img.height, gps, taken)


def _exif(img: Image.Image) -> tuple[tuple[float, float] | None, datetime | None]:
    exif = img.getexif()
    taken = None
    raw = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(306)
    if raw:
        try:
            taken = datetime.strptime(str(raw), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            taken = None
    gps = exif.get_ifd(_GPS_IFD)
    try:
        lat = _dms(gps[2]) * (-1 if gps.get(1) in ("S", b"S") else 1)
        lon = _dms(gps[4]) * (-1 if gps.get(3) in ("W", b"W") else 1)
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None, taken
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or (lon == 0 and lat == 0):
        return None, taken
    return (lon, lat), taken


def _dms(value: tuple[Any, ...]) -> float:
    d, m, s = (float(v) for v in value)
    return d + m / 60 + s / 3600


def public_copy(data: bytes, *, max_side: int = 2048) -> bytes:
    """Re-encode as JPEG with the orientation applied and no metadata (no GPS, no device).

    This decodes every byte (verify() in inspect_image does not), so a truncated or
    corrupt body is refused here, before anything is stored.
    """
    try:
        img = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
        img.thumbnail((max_side, max_side))
        if img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=85, optimize=True)  # no exif= argument: nothing kept
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _bad("图片文件已损坏或不完整", f"corrupt or truncated image ({exc})") from None
    return out.getvalue()
