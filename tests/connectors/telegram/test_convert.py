"""Animated stickers converted (TGS with rlottie, WEBM with PyAV) into animated WEBP or GIF that
Pillow opens with several frames; broken input is a ConversionFailed, never a crash."""

from __future__ import annotations

import gzip
import io

import pytest
from PIL import Image

from connectors.telegram.convert import MAX_SIDE, ConversionFailed, convert_sticker
from tests.connectors.telegram.sticker_samples import make_tgs, make_webm


@pytest.mark.parametrize("target", ["webp", "gif"])
@pytest.mark.parametrize("source", ["application/x-tgsticker", "video/webm"])
async def test_an_animated_sticker_becomes_an_animated_image(source: str, target: str) -> None:
    data = make_tgs() if source == "application/x-tgsticker" else make_webm()
    converted = await convert_sticker(data, source, target)  # type: ignore[arg-type]
    assert converted.mimetype == f"image/{target}"
    with Image.open(io.BytesIO(converted.data)) as image:
        assert image.format == target.upper()
        assert getattr(image, "n_frames", 1) > 1, "still animated"
        assert image.size == (converted.width, converted.height) == (64, 64)


async def test_a_large_sticker_is_scaled_down() -> None:
    converted = await convert_sticker(make_tgs(side=512), "application/x-tgsticker", "webp")
    assert (converted.width, converted.height) == (MAX_SIDE, MAX_SIDE)


@pytest.mark.parametrize(
    ("data", "source"),
    [
        (b"not gzip at all", "application/x-tgsticker"),
        (gzip.compress(b"{not json"), "application/x-tgsticker"),
        (b"\x1aE\xdf\xa3 broken webm", "video/webm"),
        (b"whatever", "image/png"),
    ],
)
async def test_broken_input_is_a_clear_failure(data: bytes, source: str) -> None:
    with pytest.raises(ConversionFailed):
        await convert_sticker(data, source, "webp")
