"""Animated stickers into a form Matrix clients play.

Telegram's animated stickers are TGS (gzipped Lottie JSON), which no Matrix client renders,
and its video stickers WEBM, which few show as a sticker. Both become an animated WEBP or GIF
(``telegram.animated_stickers``): TGS frames rendered with rlottie, WEBM frames decoded with
PyAV, written with Pillow, all in sticker_worker.py.

Each conversion runs in a worker process of its own, never in a thread of the bridge: a
crafted sticker can keep a decoder busy for as long as it likes or make it crash, and a thread
can be neither stopped nor isolated (a timed-out thread kept running, and such threads filled
the executor aiohttp resolves host names in). A process is killed when its time is up, caps
its own memory, crashes alone without taking the bridge down, and at most ``at_once`` of them
run at a time, so stickers wait for each other and nothing else waits for stickers. Starting
one costs about a quarter of a second, little beside a sticker's download.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .sticker_worker import ConversionFailed

__all__ = ["AnimatedFormat", "ConversionFailed", "Converted", "StickerConverter"]

log = logging.getLogger("connectors.telegram.convert")

AnimatedFormat = Literal["webp", "gif"]

CONVERT_SECONDS = 30.0
AT_ONCE = 2
_WORKER = Path(__file__).with_name("sticker_worker.py")


@dataclass(frozen=True, slots=True)
class Converted:
    data: bytes
    mimetype: str
    width: int
    height: int
    # The worker's peak resident memory, in KiB.
    peak_kb: int = 0


class StickerConverter:
    """Converts stickers in worker processes, ``at_once`` at a time, each ended after
    ``seconds``."""

    def __init__(self, at_once: int = AT_ONCE, seconds: float = CONVERT_SECONDS) -> None:
        self._slots = asyncio.Semaphore(at_once)
        self._seconds = seconds

    async def convert(self, data: bytes, source: str, target: AnimatedFormat) -> Converted:
        """``source``: the sticker's MIME type (application/x-tgsticker or video/webm)."""
        async with self._slots:
            code, output, errors = await self._run(data, source, target)
        if code != 0:
            log.warning("Sticker conversion stopped (%s): %s", _ending(code), errors[-500:])
            raise ConversionFailed(f"the converter stopped ({_ending(code)})")
        header, _, image = output.partition(b"\n")
        answer = json.loads(header)
        log.debug("Sticker conversion: %s, %d KiB of memory at most", answer, answer["peak_kb"])
        if not answer["ok"]:
            raise ConversionFailed(answer["reason"])
        return Converted(
            image, answer["mimetype"], answer["width"], answer["height"], answer["peak_kb"]
        )

    async def _run(self, data: bytes, source: str, target: str) -> tuple[int, bytes, str]:
        # -I: the worker sees neither PYTHON* variables nor the current directory.
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", str(_WORKER), source, target,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with asyncio.timeout(self._seconds):
                output, errors = await process.communicate(data)
        except TimeoutError:
            raise ConversionFailed(f"it took longer than {self._seconds:g} s") from None
        finally:
            if process.returncode is None:  # out of time, or the bridge is stopping
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        assert process.returncode is not None
        return process.returncode, output, errors.decode(errors="replace")


def _ending(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"exit status {code}"
