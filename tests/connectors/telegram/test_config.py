"""The telegram section's webhook settings: what webhook mode needs, said in the admin's terms,
and the secret kept out of errors and logs."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.config.loader import ConfigError
from connectors.telegram.config import load_config
from connectors.telegram.connector import TelegramConnector

TOKEN = "6000000001:AAF-fake-telegram-token-for-tests_0123456"
SECRET = "a-long-enough_secret-0123456789"
URL = "https://bridge.example.org/telegram/hook"


def section(**telegram: Any) -> dict[str, Any]:
    return {"bot_token": TOKEN, **telegram}


def webhook(url: str = URL, secret: str = SECRET, **telegram: Any) -> dict[str, Any]:
    return section(mode="webhook", webhook={"url": url, "secret_token": secret}, **telegram)


def problem(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as failure:
        load_config(data)
    return str(failure.value)


def test_polling_is_the_default_and_needs_no_webhook() -> None:
    config = load_config(section())
    assert config.mode == "polling"
    assert load_config(section(webhook={"url": "", "secret_token": "generate"})).mode == "polling"


def test_webhook_mode_serves_the_path_of_its_url() -> None:
    config = load_config(webhook(url="https://bridge.example.org:8443/tg/x1?ignored=1"))
    assert config.mode == "webhook"
    assert config.webhook.path == "/tg/x1"
    assert load_config(webhook(url="https://bridge.example.org")).webhook.path == "/"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (webhook(url=""), "telegram.webhook.url: missing"),
        (webhook(url="bridge.example.org/hook"), "must be an https:// URL with a host"),
        (webhook(url="http://bridge.example.org/hook"), "must be https://"),
        (webhook(url="https://bridge.example.org:8080/hook"), "ports 443, 80, 88 and 8443"),
        (webhook(url="https://bridge.example.org/_matrix/hook"), "must not start with /_matrix/"),
        (webhook(secret=""), "telegram.webhook.secret_token: not set"),
        (webhook(secret="generate"), "telegram.webhook.secret_token: not set"),
        (webhook(secret="short_secret"), "16 to 256 letters"),
        (webhook(secret="has spaces in the secret"), "16 to 256 letters"),
        (webhook(secret="x" * 257), "16 to 256 letters"),
    ],
)
def test_webhook_mode_refuses_what_cannot_work(data: dict[str, Any], expected: str) -> None:
    message = problem(data)
    assert expected in message
    secret = data["webhook"]["secret_token"]
    if secret not in ("", "generate"):
        assert secret not in message


def test_a_local_bot_api_server_may_post_to_http_and_any_port() -> None:
    local = "http://127.0.0.1:8081"
    config = load_config(webhook(url="http://bridge.internal:8080/hook", api_url=local))
    assert config.webhook.url == "http://bridge.internal:8080/hook"


def test_every_problem_is_told_at_once_without_the_secret() -> None:
    bad_secret = "wrong secret with spaces in it"
    message = problem(webhook(url="", secret=bad_secret, poll_timeout=500))
    for expected in ("telegram.poll_timeout", "telegram.webhook.url", "secret_token"):
        assert expected in message, message
    assert bad_secret not in message


def test_the_secret_is_kept_out_of_the_logs_in_webhook_mode() -> None:
    connector = TelegramConnector()
    connector.configure(webhook())
    assert set(connector.secrets()) == {TOKEN, SECRET}
    connector.configure(section(webhook={"url": URL, "secret_token": SECRET}))
    assert list(connector.secrets()) == [TOKEN]
