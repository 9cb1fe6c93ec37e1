"""One animated sticker into an animated WEBP or GIF, in a process of its own.

convert.py runs this file as ``python -I sticker_worker.py SOURCE TARGET`` with the sticker on
stdin; the answer on stdout is a JSON line, then (on success) the image. Stickers come from
anyone, so nothing here trusts them: the process first caps its own memory and CPU time; a
document's claims (a Lottie's size, frame rate and length; a WEBM's length) are checked before
anything is rendered; FFmpeg refuses a frame larger than MAX_SOURCE_SIDE squared before it
allocates it (a WEBM's frames may be larger than its header says); and every frame is scaled
down as it is converted, so no full-size RGB copy is ever made. Telegram's own limits are 512
pixels a side and 3 seconds; the bounds below leave room above those.

Only the standard library at the top: the bridge imports this module for its limits.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import resource
import sys
from typing import Any

MAX_SIDE = 256  # of the converted image
MAX_SOURCE_SIDE = 1024
MAX_SECONDS = 10.0
MAX_FRAME_RATE = 120.0
MAX_FRAMES = 120  # in the converted image
MAX_LOTTIE = 4 * 1024 * 1024
# The worker's address space (the libraries take about 250 MB of it) and CPU time: a bound
# for what the checks do not foresee, and an end for a worker whose bridge went away.
MEMORY_LIMIT = 768 * 1024 * 1024
CPU_SECONDS = 120
MIMETYPES = {"webp": "image/webp", "gif": "image/gif"}
_TOO_LARGE = re.compile(r"Picture size (\d+)x(\d+) exceeds")


class ConversionFailed(Exception):
    """The sticker could not be converted; the text says why."""


def main(argv: list[str]) -> int:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    source, target = argv[1], argv[2]
    data = sys.stdin.buffer.read()
    try:
        image, width, height = convert(data, source, target)
    except ConversionFailed as failure:
        _answer({"ok": False, "reason": str(failure), "peak_kb": peak_kb()})
        return 0
    answer = {"ok": True, "mimetype": MIMETYPES[target], "width": width, "height": height}
    _answer(answer | {"peak_kb": peak_kb()}, image)
    return 0


def peak_kb() -> int:
    """The process's peak resident memory in KiB (VmHWM: unlike ru_maxrss, it does not carry
    over the bridge's own from before the exec)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _answer(header: dict[str, Any], image: bytes = b"") -> None:
    sys.stdout.buffer.write(json.dumps(header).encode() + b"\n" + image)
    sys.stdout.buffer.flush()


def convert(data: bytes, source: str, target: str) -> tuple[bytes, int, int]:
    """The animated image, its width and height."""
    if target not in MIMETYPES:
        raise ConversionFailed(f"{target} is not a format the bridge converts into")
    try:
        if source == "application/x-tgsticker":
            frames, duration = lottie_frames(data)
        elif source == "video/webm":
            frames, duration = video_frames(data)
        else:
            raise ConversionFailed(f"{source} is not an animated sticker format")
    except ConversionFailed:
        raise
    except MemoryError:
        raise ConversionFailed("it needs more memory than the bridge gives a conversion") from None
    except Exception as error:  # the decoders raise their own kinds for broken input
        raise ConversionFailed(f"it could not be read ({type(error).__name__}: {error})") from None
    if not frames:
        raise ConversionFailed("it has no frames")
    return _encode(frames, duration, target)


def lottie_frames(data: bytes) -> tuple[list[Any], float]:
    """Frames rendered at their final size, and each one's duration in ms."""
    with gzip.GzipFile(fileobj=io.BytesIO(data)) as unzipped:
        document = unzipped.read(MAX_LOTTIE + 1)
    if len(document) > MAX_LOTTIE:
        raise ConversionFailed("its animation is too large")
    width, height, rate, total = lottie_claims(json.loads(document))

    from rlottie_python.rlottie_wrapper import LottieAnimation

    animation = LottieAnimation.from_data(document.decode("utf-8"))
    try:
        # rlottie's own reading of the same fields, lest it read them otherwise.
        total = min(total, animation.lottie_animation_get_totalframe())
        width, height = fit(width, height)
        step = max(1, math.ceil(total / MAX_FRAMES))
        frames = [
            animation.render_pillow_frame(frame_num=number, width=width, height=height)
            for number in range(0, total, step)
        ]
    finally:
        animation.lottie_animation_destroy()
    return frames, 1000 * step / rate


def lottie_claims(document: Any) -> tuple[int, int, float, int]:
    """What a Lottie document says of itself (width, height, frame rate, frames), refused
    when it is more than a sticker may be."""
    if not isinstance(document, dict):
        raise ConversionFailed("it is not a Lottie animation")
    values = [document.get(key) for key in ("w", "h", "fr", "ip", "op")]
    numbers = [float(value) for value in values if isinstance(value, int | float)]
    if len(numbers) < len(values) or not all(math.isfinite(number) for number in numbers):
        raise ConversionFailed("it is not a Lottie animation (no size, frame rate or length)")
    width, height, rate, first, last = numbers
    if width < 1 or height < 1:
        raise ConversionFailed("it has no size")
    check_size(width, height)
    if not 0 < rate <= MAX_FRAME_RATE:
        raise ConversionFailed(
            f"it claims {rate:g} frames a second; the bridge converts at most {MAX_FRAME_RATE:g}"
        )
    total = last - first
    check_seconds(total / rate)
    if _has_pictures(document):
        raise ConversionFailed("it embeds pictures, which Telegram's animated stickers never do")
    return int(width), int(height), rate, max(0, math.floor(total))


def _has_pictures(document: dict[str, Any]) -> bool:
    assets = document.get("assets")
    if isinstance(assets, list) and any(isinstance(a, dict) and "p" in a for a in assets):
        return True
    layers = [document.get("layers")]
    if isinstance(assets, list):
        layers += [asset.get("layers") for asset in assets if isinstance(asset, dict)]
    return any(
        isinstance(layer, dict) and layer.get("ty") == 2
        for group in layers
        if isinstance(group, list)
        for layer in group
    )


def video_frames(data: bytes) -> tuple[list[Any], float]:
    """Frames scaled down as they are decoded, and each one's duration in ms."""
    import av
    import av.logging

    options = {"max_pixels": str(MAX_SOURCE_SIDE * MAX_SOURCE_SIDE), "threads": "1"}
    av.logging.set_level(av.logging.ERROR)
    with av.logging.Capture() as logs:
        try:
            return _decode_video(av.open(io.BytesIO(data), mode="r", options=options), options)
        except av.FFmpegError:
            for _level, _name, message in logs:
                if found := _TOO_LARGE.search(message):
                    check_size(int(found[1]), int(found[2]))
            raise


def _decode_video(container: Any, options: dict[str, str]) -> tuple[list[Any], float]:
    with container:
        if not container.streams.video:
            raise ConversionFailed("it has no video")
        stream = container.streams.video[0]
        stream.codec_context.options = dict(options)
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        seconds = container.duration / 1_000_000 if container.duration else None
        if seconds is not None:
            check_seconds(seconds)
        check_size(stream.codec_context.width, stream.codec_context.height)
        step = max(1, math.ceil((seconds or 0) * rate / MAX_FRAMES))
        frames: list[Any] = []
        for number, frame in enumerate(container.decode(stream)):
            if frame.time is not None and frame.time > MAX_SECONDS:
                check_seconds(frame.time)  # longer than its header said (or it said nothing)
            if number % step:
                continue
            width, height = fit(frame.width, frame.height)
            scaled = frame.reformat(width, height, "rgba", interpolation="AREA")
            frames.append(scaled.to_image())
            if len(frames) >= MAX_FRAMES:
                break
    return frames, 1000 * step / rate


def check_size(width: float, height: float) -> None:
    if width > MAX_SOURCE_SIDE or height > MAX_SOURCE_SIDE:
        raise ConversionFailed(
            f"it is {width:g}x{height:g} pixels; the bridge converts stickers of at most "
            f"{MAX_SOURCE_SIDE}x{MAX_SOURCE_SIDE}"
        )


def check_seconds(seconds: float) -> None:
    if seconds > MAX_SECONDS:
        raise ConversionFailed(
            f"it lasts {seconds:.0f} s; the bridge converts stickers of at most {MAX_SECONDS:.0f} s"
        )


def fit(width: float, height: float) -> tuple[int, int]:
    scale = min(1.0, MAX_SIDE / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _encode(frames: list[Any], duration: float, target: str) -> tuple[bytes, int, int]:
    output = io.BytesIO()
    first = frames[0]
    options: dict[str, Any] = {"save_all": True, "append_images": frames[1:], "loop": 0}
    options["duration"] = max(20, round(duration))
    if target == "webp":
        first.save(output, format="WEBP", quality=80, method=4, **options)
    else:
        first.save(output, format="GIF", disposal=2, optimize=False, **options)
    return output.getvalue(), first.width, first.height


if __name__ == "__main__":
    sys.exit(main(sys.argv))
