"""Small animated stickers made on the spot: a TGS (gzipped Lottie) and a WEBM (VP9)."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any


def make_tgs(side: int = 64, frames: int = 30) -> bytes:
    """A red square sliding across a transparent square, ``frames`` frames at 30 per second."""
    moving = {
        "a": 1,
        "k": [
            {
                "t": 0,
                "s": [side / 4, side / 2, 0],
                "e": [3 * side / 4, side / 2, 0],
                "i": {"x": [0.5], "y": [0.5]},
                "o": {"x": [0.5], "y": [0.5]},
            },
            {"t": frames},
        ],
    }
    square: dict[str, Any] = {
        "ddd": 0, "ind": 1, "ty": 4, "nm": "square", "sr": 1, "ao": 0,
        "ip": 0, "op": frames, "st": 0, "bm": 0,
        "ks": {
            "o": {"a": 0, "k": 100}, "r": {"a": 0, "k": 0}, "p": moving,
            "a": {"a": 0, "k": [0, 0, 0]}, "s": {"a": 0, "k": [100, 100, 100]},
        },
        "shapes": [
            {"ty": "rc", "d": 1, "s": {"a": 0, "k": [side / 3, side / 3]},
             "p": {"a": 0, "k": [0, 0]}, "r": {"a": 0, "k": 0}, "nm": "box"},
            {"ty": "fl", "c": {"a": 0, "k": [1, 0, 0, 1]}, "o": {"a": 0, "k": 100},
             "r": 1, "nm": "fill"},
        ],
    }  # fmt: skip
    document = {
        "v": "5.5.2", "fr": 30, "ip": 0, "op": frames, "w": side, "h": side,
        "nm": "sample", "ddd": 0, "assets": [], "layers": [square],
    }  # fmt: skip
    return gzip.compress(json.dumps(document).encode())


def make_webm(side: int = 64, frames: int = 10) -> bytes:
    import av

    output = io.BytesIO()
    with av.open(output, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=10)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        for number in range(frames):
            shade = (number * 25) % 256
            image = av.VideoFrame(side, side, "rgb24")
            image.planes[0].update(bytes([shade, 0, 255 - shade]) * (side * side))
            for packet in stream.encode(image.reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return output.getvalue()
