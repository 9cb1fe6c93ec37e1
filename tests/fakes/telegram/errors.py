"""Bot API errors as the fake raises and answers them."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer: HTTP status = error_code, like Telegram (PTB maps errors by status)."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def forbidden(message: str) -> ApiError:
    return ApiError(403, f"Forbidden: {message}")


class NotModelled(ApiError):
    """A request the fake cannot answer faithfully; the server also records it as a violation."""

    def __init__(self, what: str) -> None:
        super().__init__(400, f"Bad Request: the fake Telegram does not model {what}")
        self.what = what


UNAUTHORIZED = ApiError(401, "Unauthorized")
NOT_FOUND = ApiError(404, "Not Found")
