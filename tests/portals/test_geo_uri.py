"""geo: URIs (RFC 5870) as Matrix clients write them, table-driven."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portals.matrix_locations import parse_geo_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("geo:52.52,13.405", (52.52, 13.405)),
        ("geo:48.8584,2.2945;u=35", (48.8584, 2.2945)),
        ("GEO:-33.8568,151.2153", (-33.8568, 151.2153)),
        ("geo:37.786971,-122.399677,12", (37.786971, -122.399677)),  # with altitude
        ("geo:91,0", None),
        ("geo:0,181", None),
        ("geo:abc,def", None),
        ("geo:52.52", None),
        ("https://maps.example/52,13", None),
        ("", None),
    ],
)
def test_geo_uris(uri: str, expected: tuple[float, float] | None) -> None:
    assert parse_geo_uri(uri) == expected


@given(
    st.floats(min_value=-90, max_value=90, allow_nan=False),
    st.floats(min_value=-180, max_value=180, allow_nan=False),
    st.sampled_from(["", ";u=10", ";crs=wgs84", ",120"]),
)
def test_any_point_reads_back(latitude: float, longitude: float, tail: str) -> None:
    assert parse_geo_uri(f"geo:{latitude!r},{longitude!r}{tail}") == (latitude, longitude)
