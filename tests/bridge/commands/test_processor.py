"""Command parsing, permission checks and prompts, without a homeserver."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from bridge.commands.core_commands import core_commands
from bridge.commands.processor import CommandProcessor
from bridge.commands.types import Command, CommandEvent, PendingPrompt
from bridge.config.model import PermissionLevel as Level


async def network_status() -> str:
    return "up"


class Replies:
    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, text: str, html: str | None = None) -> None:
        self.texts.append(text)


@pytest.fixture
def processor() -> CommandProcessor:
    async def secret(event: CommandEvent) -> None:
        await event.reply("secret done")

    commands = core_commands("1.2.3", "Net", network_status)
    commands.append(Command("secret", secret, "Admin only", Level.ADMIN, section="Admin"))
    return CommandProcessor("!tg", commands)


@pytest.mark.parametrize(
    ("body", "management", "expected"),
    [
        ("ping", True, "ping"),
        ("  ping  ", True, "ping"),
        ("ping", False, None),
        ("!tg ping", False, "ping"),
        ("!tg ping", True, "ping"),
        ("!tgping", False, None),
        ("!tg", False, ""),
        ("hello there", False, None),
    ],
)
def test_command_text(
    processor: CommandProcessor, body: str, management: bool, expected: str | None
) -> None:
    assert processor.command_text(body, management) == expected


async def test_levels_gate_commands_and_help(processor: CommandProcessor) -> None:
    replies = Replies()
    assert await processor.handle("@u:x", Level.USER, "!r", "secret", True, replies)
    assert "needs the admin level" in replies.texts[-1]
    assert await processor.handle("@u:x", Level.USER, "!r", "help", True, replies)
    assert "secret" not in replies.texts[-1]
    assert await processor.handle("@a:x", Level.ADMIN, "!r", "help", True, replies)
    assert "secret - Admin only" in replies.texts[-1]
    assert await processor.handle("@a:x", Level.ADMIN, "!r", "SECRET", True, replies)
    assert replies.texts[-1] == "secret done"


async def test_users_below_relay_are_ignored(processor: CommandProcessor) -> None:
    replies = Replies()
    assert not await processor.handle("@n:x", Level.NONE, "!r", "ping", True, replies)
    assert replies.texts == []


async def test_unknown_command_suggests(processor: CommandProcessor) -> None:
    replies = Replies()
    await processor.handle("@u:x", Level.USER, "!r", "verison", True, replies)
    assert replies.texts == [
        "Unknown command verison. Did you mean version? Send help for the commands you can use."
    ]
    await processor.handle("@u:x", Level.USER, "!r", "!tg zzz", False, replies)
    assert replies.texts[-1] == "Unknown command zzz. Send !tg help for the commands you can use."


async def test_prompt_takes_the_next_message_and_cancel_stops_it(
    processor: CommandProcessor,
) -> None:
    replies = Replies()
    answers: list[str] = []

    async def answer(event: CommandEvent, text: str) -> None:
        answers.append(text)

    processor.prompt("@u:x", PendingPrompt("login", answer))
    # Messages elsewhere do not answer the prompt.
    assert not await processor.handle("@u:x", Level.USER, "!other", "hello", False, replies)
    assert await processor.handle("@u:x", Level.USER, "!r", "my code", True, replies)
    assert answers == ["my code"]
    assert processor.pending("@u:x") is None

    processor.prompt("@u:x", PendingPrompt("login", answer))
    await processor.handle("@u:x", Level.USER, "!r", "cancel", True, replies)
    assert replies.texts[-1] == "Cancelled login."
    await processor.handle("@u:x", Level.USER, "!r", "cancel", True, replies)
    assert replies.texts[-1] == "There is nothing to cancel."


async def test_a_failing_command_is_reported(processor: CommandProcessor) -> None:
    async def broken(event: CommandEvent) -> None:
        raise RuntimeError("boom")

    processor.register(Command("broken", broken, "Breaks", Level.RELAY))
    replies = Replies()
    await processor.handle("@u:x", Level.USER, "!r", "broken", True, replies)
    assert "failed with an internal error" in replies.texts[-1]


def test_duplicate_command_names_are_refused(processor: CommandProcessor) -> None:
    async def again(event: CommandEvent) -> None:
        return None

    with pytest.raises(ValueError, match="registered twice"):
        processor.register(Command("ping", again, "Again"))


async def test_help_ends_with_what_the_network_keeps_from_the_bridge() -> None:
    limits = "Net tells bots nothing of deletions."
    with_limits = CommandProcessor("!tg", core_commands("1.2.3", "Net", network_status, limits))
    replies = Replies()
    assert await with_limits.handle("@u:x", Level.USER, "!r", "help", True, replies)
    assert replies.texts[-1].endswith(limits)
    without = CommandProcessor("!tg", core_commands("1.2.3", "Net", network_status))
    assert await without.handle("@u:x", Level.USER, "!r", "help", True, replies)
    assert "deletions" not in replies.texts[-1]


async def test_a_command_runs_only_if_claiming_it_marked_it(processor: CommandProcessor) -> None:
    """``claim`` marks the message handled before the command runs: False (marked already,
    by an earlier attempt or before a restart) leaves it alone; an ordinary message claims
    nothing (the message map makes handling it again harmless)."""
    replies = Replies()
    claims: list[bool] = []

    def claiming(answer: bool) -> Callable[[], Awaitable[bool]]:
        async def claim() -> bool:
            claims.append(answer)
            return answer

        return claim

    assert await processor.handle(
        "@u:x", Level.USER, "!r", "!tg ping", False, replies, claiming(True)
    )
    assert len(replies.texts) == 1 and replies.texts[0].startswith("Pong")
    assert await processor.handle(
        "@u:x", Level.USER, "!r", "!tg ping", False, replies, claiming(False)
    )
    assert len(replies.texts) == 1, "marked already: not run again"
    assert not await processor.handle(
        "@u:x", Level.USER, "!r", "hello", False, replies, claiming(True)
    )
    assert claims == [True, False], "a message that is no command claims nothing"
