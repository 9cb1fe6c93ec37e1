"""Animated stickers into a form Matrix clients play.

Telegram's animated stickers are TGS (gzipped Lottie JSON), which no Matrix client renders,
and its video stickers WEBM, which few show as a sticker. Both become an animated WEBP or GIF
(``telegram.animated_stickers``): TGS frames rendered with rlottie, WEBM frames decoded with
PyAV, written with Pillow. The work runs in a thread, off the event loop, and is bounded:
at most MAX_FRAMES frames of at most MAX_SIDE pixels, a Lottie document of at most
MAX_LOTTIE bytes, and CONVERT_SECONDS of waiting. Those libraries are imported only here, on
the first sticker, so a bridge that never sees one does not carry them in memory.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import math
from dataclasses import dataclass
from typing import Any, Literal

AnimatedFormat = Literal["webp", "gif"]

MAX_SIDE = 256
MAX_FRAMES = 120
MAX_LOTTIE = 4 * 1024 * 1024
CONVERT_SECONDS = 30.0
MIMETYPES = {"webp": "image/webp", "gif": "image/gif"}


class ConversionFailed(Exception):
    """The sticker could not be converted; the text says why."""


@dataclass(frozen=True, slots=True)
class Converted:
    data: bytes
    mimetype: str
    width: int
    height: int


async def convert_sticker(data: bytes, source: str, target: AnimatedFormat) -> Converted:
    """``source``: the sticker's MIME type (application/x-tgsticker or video/webm)."""
    try:
        async with asyncio.timeout(CONVERT_SECONDS):
            return await asyncio.to_thread(_convert, data, source, target)
    except TimeoutError:
        raise ConversionFailed(f"it took longer than {CONVERT_SECONDS:.0f} s") from None


def _convert(data: bytes, source: str, target: AnimatedFormat) -> Converted:
    try:
        if source == "application/x-tgsticker":
            frames, duration = _lottie_frames(data)
        elif source == "video/webm":
            frames, duration = _video_frames(data)
        else:
            raise ConversionFailed(f"{source} is not an animated sticker format")
    except ConversionFailed:
        raise
    except Exception as error:  # the decoders raise their own kinds for broken input
        raise ConversionFailed(f"it could not be read ({type(error).__name__}: {error})") from None
    if not frames:
        raise ConversionFailed("it has no frames")
    return _encode(frames, duration, target)


def _lottie_frames(data: bytes) -> tuple[list[Any], float]:
    from rlottie_python.rlottie_wrapper import LottieAnimation

    with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
        document = unzipped.read(MAX_LOTTIE + 1)
    if len(document) > MAX_LOTTIE:
        raise ConversionFailed("its animation is too large")
    animation = LottieAnimation.from_data(document.decode("utf-8"))
    try:
        total = animation.lottie_animation_get_totalframe()
        rate = animation.lottie_animation_get_framerate() or 30
        width, height = _fit(*animation.lottie_animation_get_size())
        step = max(1, math.ceil(total / MAX_FRAMES))
        frames = [
            animation.render_pillow_frame(frame_num=number, width=width, height=height)
            for number in range(0, total, step)
        ]
    finally:
        animation.lottie_animation_destroy()
    return frames, 1000 * step / rate


def _video_frames(data: bytes) -> tuple[list[Any], float]:
    import av

    frames: list[Any] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 30)
        for frame in container.decode(stream):
            image = frame.to_image().convert("RGBA")  # type: ignore[no-untyped-call]
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            frames.append(image)
            if len(frames) >= MAX_FRAMES:
                break
    return frames, 1000 / rate


def _encode(frames: list[Any], duration: float, target: AnimatedFormat) -> Converted:
    output = io.BytesIO()
    first = frames[0]
    options: dict[str, Any] = {"save_all": True, "append_images": frames[1:], "loop": 0}
    options["duration"] = max(20, round(duration))
    if target == "webp":
        first.save(output, format="WEBP", quality=80, method=4, **options)
    else:
        first.save(output, format="GIF", disposal=2, optimize=False, **options)
    return Converted(output.getvalue(), MIMETYPES[target], first.width, first.height)


def _fit(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, MAX_SIDE / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))
