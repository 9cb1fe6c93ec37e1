"""The API's OpenAPI document, shipped as package data (openapi.yaml) and served filled in
with where the API is and the bridge's version."""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from typing import Any

from ruamel.yaml import YAML

DOCUMENT_NAME = "openapi.yaml"


@cache
def _template() -> dict[str, Any]:
    text = (
        resources.files("bridge.provisioning").joinpath(DOCUMENT_NAME).read_text(encoding="utf-8")
    )
    document: dict[str, Any] = YAML(typ="safe").load(text)
    return document


def openapi_document(base_path: str, version: str) -> dict[str, Any]:
    document = copy.deepcopy(_template())
    document["info"]["version"] = version
    document["servers"] = [{"url": base_path}]
    return document
