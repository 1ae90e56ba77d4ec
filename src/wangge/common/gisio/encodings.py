"""Text encodings of GIS files: .cpg labels, DBF sniffing (UTF-8 or GBK) and CSV decoding.

Chinese Shapefiles come in GBK or UTF-8 with or without a .cpg sidecar; the rule is an
explicit encoding first, then the .cpg, then a strict-UTF-8 test over the DBF bytes.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from typing import Any

from wangge.common.gisio.model import fail

# Enough DBF records to tell UTF-8 from GBK without reading a huge file into memory.
DBF_SNIFF_BYTES = 4 * 1024 * 1024
CPG_ALIASES = {
    "UTF8": "UTF-8",
    "65001": "UTF-8",
    "GBK": "GBK",
    "936": "GBK",
    "CP936": "GBK",
    "GB2312": "GBK",  # ArcGIS labels GBK data "GB2312"; GBK is a strict superset
    "GB18030": "GB18030",
    "54936": "GB18030",
}


def normalize_encoding(label: str) -> str | None:
    """Map a .cpg/user label ("UTF-8", "936", "65001", "GB2312"…) to a codec name, or None."""
    key = label.strip().upper().replace("-", "").replace("_", "").replace(" ", "")
    if key.startswith("ANSI") and key[4:].isdigit():  # some tools write "ANSI 936"
        key = key[4:]
    if key in CPG_ALIASES:
        return CPG_ALIASES[key]
    candidate = f"cp{key}" if key.isdigit() else label.strip()
    try:
        return codecs.lookup(candidate).name
    except LookupError:
        return None


def detect_dbf_encoding(dbf: bytes) -> str:
    """Guess a DBF's encoding: "UTF-8" if names and records are strictly UTF-8, else "GBK".

    GBK text is almost never valid UTF-8 (its lead bytes 0x81–0xFE rarely form UTF-8
    sequences), while pure ASCII is valid in both, so strict UTF-8 is a safe first test.
    """
    if len(dbf) < 32:
        return "UTF-8"
    header_len = int.from_bytes(dbf[8:10], "little")
    record_len = int.from_bytes(dbf[10:12], "little")
    field_area = dbf[32 : max(32, header_len - 1)]
    # Field names are the first 11 bytes of each 32-byte descriptor.
    names = b"".join(field_area[i : i + 11].rstrip(b"\x00") for i in range(0, len(field_area), 32))
    records = dbf[header_len:]
    if record_len > 0:  # cut at a record boundary so no character is split
        records = records[: len(records) - len(records) % record_len]
    try:
        (names + b"\n" + records).decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return "GBK"
    return "UTF-8"


def read_limited(opener: Callable[[], io.BufferedIOBase | Any]) -> bytes:
    """Read the first DBF_SNIFF_BYTES bytes from a freshly opened binary stream."""
    with opener() as stream:
        return stream.read(DBF_SNIFF_BYTES)


def resolve_shapefile_encoding(
    explicit: str | None, cpg: bytes | None, dbf: Callable[[], bytes] | None
) -> str:
    """Explicit encoding wins, then the .cpg, then sniffing the DBF bytes."""
    if explicit:
        return normalize_encoding(explicit) or explicit
    if cpg is not None:
        declared = normalize_encoding(cpg.decode("ascii", errors="ignore"))
        if declared:
            return declared
    return detect_dbf_encoding(dbf()) if dbf is not None else "UTF-8"


def decode_text(data: bytes, file: str, encoding: str | None) -> tuple[str, str]:
    """Decode CSV bytes: explicit encoding, else UTF-8 (BOM or not), else GBK."""
    candidates = [encoding] if encoding else ["utf-8-sig", "gbk"]
    for enc in candidates:
        try:
            text = data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
        return text, "UTF-8" if enc == "utf-8-sig" else enc.upper()
    tried = " / ".join(candidates)
    raise fail(file, f"无法按 {tried} 编码读取文本", f"text is not valid {tried}")
