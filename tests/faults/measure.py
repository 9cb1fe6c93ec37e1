"""Counting what a scenario sent and what arrived: lost, duplicated, out of order."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Tally:
    sent: int
    delivered: int
    lost: int
    duplicated: int
    out_of_order: int

    @property
    def perfect(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.out_of_order == 0


def tally(sent: dict[str, list[int]], received: dict[str, list[int]]) -> Tally:
    """``sent`` and ``received`` map each portal to message sequence numbers, in the order
    sent and the order they arrived."""
    total_sent = total_delivered = lost = duplicated = out_of_order = 0
    for portal, numbers in sent.items():
        arrived = received.get(portal, [])
        counts = Counter(arrived)
        wanted = set(numbers)
        total_sent += len(numbers)
        total_delivered += len(wanted & set(arrived))
        lost += len(wanted - set(arrived))
        duplicated += sum(count - 1 for count in counts.values() if count > 1)
        # A message that arrives after one sent later than it is out of order.
        highest = -1
        for number in arrived:
            if number < highest:
                out_of_order += 1
            highest = max(highest, number)
    return Tally(total_sent, total_delivered, lost, duplicated, out_of_order)
