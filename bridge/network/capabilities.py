"""What a network may do beyond sending messages, each an optional protocol of its own.

The core checks for one with ``isinstance`` where it needs it, and tells the Matrix sender in
words when the network lacks it: a connector declares what it supports by what it implements.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from .ids import PortalKey
from .outgoing import MatrixEdit, PartRemoved, SendingPart, SendProgress, SentMessage


@runtime_checkable
class EditsMessages(Protocol):
    def edit_message(
        self, portal: PortalKey, edit: MatrixEdit, progress: SendProgress
    ) -> AsyncIterator[SendingPart | SentMessage | PartRemoved]:
        """Change a message the bridge sent to the new content, part by part.

        Yields SentMessage for each part edited in place, and for a part the new content
        adds (after SendingPart, as ``send_message`` does; ``progress`` names such parts
        already sent or in doubt); PartRemoved for a part it no longer needs. Editing a part
        to what it already says is success. Raise DeliveryError when the network refuses for
        good, TemporaryFailure when it cannot take the edit now.
        """
