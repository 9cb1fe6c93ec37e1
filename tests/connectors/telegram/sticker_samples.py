"""Animated stickers made on the spot: TGS (gzipped Lottie) and WEBM (VP9), well-made or not.
The same arguments make the same bytes (the gzip header's time is 0)."""

from __future__ import annotations

import functools
import gzip
import io
import json
from fractions import Fraction
from typing import Any


def make_tgs(side: int = 64, frames: int = 30, **claims: Any) -> bytes:
    """A red square sliding across a transparent square, ``frames`` frames at 30 per second;
    ``claims`` replace fields of the document (w, h, fr, op, assets...)."""
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
    document.update(claims)
    return gzip.compress(json.dumps(document).encode(), mtime=0)


@functools.cache
def make_webm(side: int = 64, frames: int = 10, rate: Fraction | int = 10) -> bytes:
    """VP9 frames of one colour each, ``rate`` a second."""
    import av

    output = io.BytesIO()
    with av.open(output, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx-vp9", rate=rate)
        stream.width = stream.height = side
        stream.pix_fmt = "yuv420p"
        stream.options = {"deadline": "realtime", "cpu-used": "8"}
        for number in range(frames):
            shade = (number * 25) % 256
            image = av.VideoFrame(side, side, "rgb24")
            image.planes[0].update(bytes([shade, 0, 255 - shade]) * (side * side))
            for packet in stream.encode(image.reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return output.getvalue()


def claiming_side(webm: bytes, side: int, claimed: int) -> bytes:
    """The WEBM with its header saying its frames are ``claimed`` pixels a side (Matroska's
    PixelWidth and PixelHeight, two-byte values), while they are still ``side``."""
    for element in (b"\xb0\x82", b"\xba\x82"):
        real, said = element + side.to_bytes(2), element + claimed.to_bytes(2)
        assert webm.count(real) == 1, "the element is where a muxer puts it"
        webm = webm.replace(real, said)
    return webm


def make_slow_tgs(copies: int = 40, frames: int = 60) -> bytes:
    """A small TGS whose every frame draws ``copies`` squared 50-pointed stars (a repeater in
    a repeater): rlottie takes about a minute over the default 40 on one core."""
    still = {"a": 0, "k": 0}
    turning = {
        "a": 1,
        "k": [
            {"t": 0, "s": [0], "e": [360], "i": {"x": [0.5], "y": [0.5]},
             "o": {"x": [0.5], "y": [0.5]}},
            {"t": frames},
        ],
    }  # fmt: skip

    def transform(position: list[float], rotation: dict[str, Any]) -> dict[str, Any]:
        return {
            "ty": "tr", "p": {"a": 0, "k": position}, "a": {"a": 0, "k": [0, 0]},
            "s": {"a": 0, "k": [100, 100]}, "r": rotation, "o": {"a": 0, "k": 100},
            "so": {"a": 0, "k": 100}, "eo": {"a": 0, "k": 100},
        }  # fmt: skip

    def repeater() -> dict[str, Any]:
        return {"ty": "rp", "c": {"a": 0, "k": copies}, "o": still, "m": 1,
                "tr": transform([1, 1], turning)}  # fmt: skip

    star = {
        "ty": "sr", "sy": 1, "d": 1, "pt": {"a": 0, "k": 50}, "p": {"a": 0, "k": [0, 0]},
        "r": still, "ir": {"a": 0, "k": 20}, "is": still, "or": {"a": 0, "k": 60}, "os": still,
    }  # fmt: skip
    stroke = {"ty": "st", "c": {"a": 0, "k": [0, 0, 1, 1]}, "o": {"a": 0, "k": 50},
              "w": {"a": 0, "k": 3}, "lc": 2, "lj": 2}  # fmt: skip
    inner = {"ty": "gr", "it": [star, stroke, repeater(), transform([0, 0], still)]}
    outer = {"ty": "gr", "it": [inner, repeater(), transform([256, 256], still)]}
    layer = {
        "ddd": 0, "ind": 1, "ty": 4, "nm": "stars", "sr": 1, "ao": 0, "ip": 0, "op": frames,
        "st": 0, "bm": 0, "shapes": [outer],
        "ks": {"o": {"a": 0, "k": 100}, "r": still, "p": {"a": 0, "k": [0, 0, 0]},
               "a": {"a": 0, "k": [0, 0, 0]}, "s": {"a": 0, "k": [100, 100, 100]}},
    }  # fmt: skip
    document = {"v": "5.5.2", "fr": 30, "ip": 0, "op": frames, "w": 512, "h": 512,
                "nm": "slow", "ddd": 0, "assets": [], "layers": [layer]}  # fmt: skip
    return gzip.compress(json.dumps(document).encode(), mtime=0)
