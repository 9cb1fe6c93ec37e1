"""Animated stickers converted (TGS with rlottie, WEBM with PyAV, in a worker process) into
animated WEBP or GIF that Pillow opens with several frames. Broken or hostile input is a
ConversionFailed, never a crash: what a sticker claims is checked before anything is decoded,
frames are scaled down as they are decoded, and a conversion that takes too long is ended
without holding up anything else."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from connectors.telegram import sticker_worker
from connectors.telegram.convert import ConversionFailed, StickerConverter
from connectors.telegram.sticker_worker import (
    MAX_FRAME_RATE,
    MAX_SECONDS,
    MAX_SIDE,
    MAX_SOURCE_SIDE,
    fit,
    lottie_claims,
)
from tests.connectors.telegram.sticker_samples import (
    claiming_side,
    make_slow_tgs,
    make_tgs,
    make_webm,
)
from tests.support.waiting import eventually

TGS = "application/x-tgsticker"
WEBM = "video/webm"
WORKER = Path(sticker_worker.__file__)
PICTURE = {"id": "image_0", "w": 64, "h": 64, "u": "", "p": "data:image/png;base64,iVBORw0KGgo="}


@pytest.mark.parametrize("target", ["webp", "gif"])
@pytest.mark.parametrize("source", [TGS, WEBM])
async def test_an_animated_sticker_becomes_an_animated_image(source: str, target: str) -> None:
    data = make_tgs() if source == TGS else make_webm()
    converted = await StickerConverter().convert(data, source, target)  # type: ignore[arg-type]
    assert converted.mimetype == f"image/{target}"
    with Image.open(io.BytesIO(converted.data)) as image:
        assert image.format == target.upper()
        assert getattr(image, "n_frames", 1) > 1, "still animated"
        assert image.size == (converted.width, converted.height) == (64, 64)


@pytest.mark.parametrize("source", [TGS, WEBM])
async def test_a_large_sticker_is_scaled_down(source: str) -> None:
    data = make_tgs(side=512) if source == TGS else make_webm(side=512, frames=3)
    converted = await StickerConverter().convert(data, source, "webp")
    assert (converted.width, converted.height) == (MAX_SIDE, MAX_SIDE)


# mtime=0: the bytes name the test, and pytest-xdist's workers must all name it alike.
@pytest.mark.parametrize(
    ("data", "source"),
    [
        (b"not gzip at all", TGS),
        (gzip.compress(b"{not json", mtime=0), TGS),
        (gzip.compress(b"[1, 2, 3]", mtime=0), TGS),
        (b"\x1aE\xdf\xa3 broken webm", WEBM),
        (b"whatever", "image/png"),
    ],
)
async def test_broken_input_is_a_clear_failure(data: bytes, source: str) -> None:
    with pytest.raises(ConversionFailed):
        await StickerConverter().convert(data, source, "webp")


# What each sticker claims, and the reason it is refused for (each would convert if its claim
# were not checked: the frames themselves are small and few).
REFUSED: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("tgs-huge", lambda: make_tgs(w=100_000, h=100_000), TGS, "is 100000x100000 pixels"),
    ("tgs-an-hour", lambda: make_tgs(op=30 * 3600), TGS, "lasts 3600 s"),
    ("tgs-1000-fps", lambda: make_tgs(fr=1000, op=3000), TGS, "claims 1000 frames a second"),
    ("tgs-picture", lambda: make_tgs(assets=[PICTURE]), TGS, "embeds pictures"),
    ("webm-large", lambda: make_webm(side=1280, frames=2), WEBM, "is 1280x1280 pixels"),
    (
        "webm-understating",
        lambda: claiming_side(make_webm(side=1280, frames=2), 1280, 256),
        WEBM,
        "is 1280x1280 pixels",
    ),
    ("webm-20-s", lambda: make_webm(frames=4, rate=Fraction(1, 5)), WEBM, "lasts 20 s"),
]


@pytest.mark.parametrize(
    ("make", "source", "reason"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED]
)
async def test_a_sticker_claiming_more_than_a_sticker_may_be_is_refused(
    make: Callable[[], bytes], source: str, reason: str
) -> None:
    with pytest.raises(ConversionFailed, match=reason):
        await StickerConverter().convert(make(), source, "webp")


def run_worker(data: bytes, source: str) -> dict[str, Any]:
    """The worker's answer, as convert.py starts it."""
    done = subprocess.run(
        [sys.executable, "-I", str(WORKER), source, "webp"],
        input=data, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    answer: dict[str, Any] = json.loads(done.stdout.partition(b"\n")[0])
    return answer


def test_frames_are_scaled_down_as_they_are_decoded() -> None:
    # Two WEBMs alike but for their size, both becoming 256x256: the larger costs the worker
    # only FFmpeg's decoding at that size. Made into full-size pictures first, one 1024x1024
    # frame takes 3 MiB as RGB and 4 more as RGBA; that (with FFmpeg's frame threads) cost
    # 17 MiB more here, against about 6 MiB scaled as decoded.
    small = run_worker(make_webm(side=256, frames=30), WEBM)
    large = run_worker(make_webm(side=1024, frames=30), WEBM)
    assert small["ok"] and large["ok"]
    assert (large["width"], large["height"]) == (small["width"], small["height"]) == (256, 256)
    extra_mib = (large["peak_kb"] - small["peak_kb"]) / 1024
    assert extra_mib < 10, f"{extra_mib:.1f} MiB more for the larger frames"


def test_an_oversized_webm_is_refused_before_a_frame_is_decoded() -> None:
    # Its header says 256 pixels a side; FFmpeg refuses its 1280x1280 frames before making
    # room for them, so the worker ends below what converting even a tiny sticker takes.
    refused = run_worker(claiming_side(make_webm(side=1280, frames=2), 1280, 256), WEBM)
    tiny = run_worker(make_webm(side=64, frames=2), WEBM)
    assert not refused["ok"] and "1280x1280" in refused["reason"]
    assert refused["peak_kb"] < tiny["peak_kb"], (refused, tiny)


def workers() -> list[int]:
    """This process's sticker workers still running (reaped ones are gone from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and str(WORKER).encode() in command:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether the process exists, even as a zombie nobody waited for."""
    return Path(f"/proc/{pid}").exists()


async def test_slow_conversions_hold_up_nothing_and_end_when_their_time_is_up() -> None:
    loop = asyncio.get_running_loop()
    converter = StickerConverter(at_once=2, seconds=2)
    slow = make_slow_tgs()
    # More conversions than the default executor has threads (where aiohttp resolves names).
    conversions = [asyncio.ensure_future(converter.convert(slow, TGS, "webp")) for _ in range(8)]
    seen: set[int] = set()
    most = 0

    def watch() -> bool:
        nonlocal most
        running = workers()
        seen.update(running)
        most = max(most, len(running))
        return all(conversion.done() for conversion in conversions)

    await eventually(lambda: watch() or len(seen) == 2, what="two conversions at work")
    started = loop.time()
    await loop.getaddrinfo("localhost", 80)
    await loop.run_in_executor(None, sum, [1, 2])
    assert loop.time() - started < 1.0, "name resolution waited for the conversions"

    await eventually(watch, timeout=60, what="every conversion to end")
    for conversion in conversions:
        with pytest.raises(ConversionFailed, match="took longer than 2 s"):
            conversion.result()
    assert len(seen) == 8 and most <= 2, (seen, most)
    assert workers() == [], "each worker was ended"
    assert not any(alive(pid) for pid in seen), "and reaped"


async def test_a_conversion_given_up_ends_its_worker() -> None:
    # The portal is stopped while its sticker converts: the worker goes with it.
    conversion = asyncio.ensure_future(StickerConverter().convert(make_slow_tgs(), TGS, "webp"))
    [pid] = await eventually(workers, what="the worker")
    conversion.cancel()
    with pytest.raises(asyncio.CancelledError):
        await conversion
    assert not alive(pid)


NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6), st.floats(allow_nan=True, allow_infinity=True), st.none()
)


@given(w=NUMBERS, h=NUMBERS, fr=NUMBERS, ip=NUMBERS, op=NUMBERS)
def test_a_lottie_passes_its_checks_only_within_the_bounds(
    w: Any, h: Any, fr: Any, ip: Any, op: Any
) -> None:
    document = {"w": w, "h": h, "fr": fr, "ip": ip, "op": op, "layers": []}
    try:
        width, height, rate, frames = lottie_claims(document)
    except ConversionFailed:
        return
    assert 1 <= width <= MAX_SOURCE_SIDE and 1 <= height <= MAX_SOURCE_SIDE
    assert 0 < rate <= MAX_FRAME_RATE
    assert 0 <= frames <= MAX_SECONDS * MAX_FRAME_RATE
    scaled = fit(width, height)
    assert all(1 <= side <= MAX_SIDE for side in scaled)
