"""Photo checks on real image bytes made with Pillow."""

import io

import pytest
from PIL import Image

from wangge.errors import ValidationFailed
from wangge.uploads.images import inspect_image, public_copy

LIMITS = {"max_bytes": 5_000_000, "max_pixels": 30_000_000}


def _jpeg_with_gps(lon: float = 116.3101, lat: float = 39.9602) -> bytes:
    img = Image.new("RGB", (64, 48), (200, 80, 20))
    exif = Image.Exif()

    def dms(v: float) -> tuple[float, float, float]:
        d = int(v)
        m = int((v - d) * 60)
        return (float(d), float(m), round(((v - d) * 60 - m) * 60, 4))

    exif[0x0110] = "PhoneModel X"
    exif.get_ifd(0x8825).update({1: "N", 2: dms(lat), 3: "E", 4: dms(lon)})
    exif.get_ifd(0x8769)[0x9003] = "2026:11:20 09:15:00"
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_a_jpeg_gives_its_size_and_the_phones_gps_position():
    info = inspect_image(_jpeg_with_gps(), **LIMITS)
    assert (info.format, info.width, info.height) == ("JPEG", 64, 48)
    assert info.gps == pytest.approx((116.3101, 39.9602), abs=1e-4)
    assert info.taken_at is not None and info.taken_at.day == 20


def test_the_public_copy_keeps_no_location_or_device_data():
    copy = public_copy(_jpeg_with_gps())
    img = Image.open(io.BytesIO(copy))
    exif = img.getexif()
    assert img.format == "JPEG" and img.size == (64, 48)
    assert not exif.get_ifd(0x8825) and 0x0110 not in exif
    assert b"PhoneModel" not in copy


def test_png_and_webp_are_accepted():
    for fmt in ("PNG", "WEBP"):
        out = io.BytesIO()
        Image.new("RGB", (10, 10)).save(out, format=fmt)
        assert inspect_image(out.getvalue(), **LIMITS).format == fmt


def test_a_gif_is_refused_with_the_supported_types_named():
    out = io.BytesIO()
    Image.new("P", (10, 10)).save(out, format="GIF")
    with pytest.raises(ValidationFailed) as err:
        inspect_image(out.getvalue(), **LIMITS)
    assert err.value.code == "unsupported_type" and "JPEG" in err.value.message_zh


def test_a_decompression_bomb_is_refused_before_decoding():
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG")  # ~15 KB on disk, 144 MP decoded
    assert len(out.getvalue()) < 100_000
    with pytest.raises(ValidationFailed) as err:
        inspect_image(out.getvalue(), **LIMITS)
    assert err.value.code in ("too_many_pixels", "bad_image")


def test_corrupt_and_oversized_files_are_refused():
    good = _jpeg_with_gps()
    with pytest.raises(ValidationFailed):
        inspect_image(b"not an image at all", **LIMITS)
    with pytest.raises(ValidationFailed):
        inspect_image(good[: len(good) // 2], **LIMITS)
    with pytest.raises(ValidationFailed) as err:
        inspect_image(good, max_bytes=100, max_pixels=10**7)
    assert err.value.code == "too_large"


def test_heic_from_an_iphone_is_read_when_the_library_is_installed():
    pillow_heif = pytest.importorskip("pillow_heif")
    heif = pillow_heif.from_pillow(Image.new("RGB", (32, 16), (1, 2, 3)))
    out = io.BytesIO()
    heif.save(out, quality=50)
    info = inspect_image(out.getvalue(), **LIMITS)
    assert info.content_type == "image/heic" and (info.width, info.height) == (32, 16)
    assert Image.open(io.BytesIO(public_copy(out.getvalue()))).format == "JPEG"
