"""What a worker process remembers about messages it may receive again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from briefy.common.queue.message import SQSMessage


@dataclass(slots=True)
class Undeleted:
    """A settled message whose delete failed ``failures`` times."""

    message: SQSMessage
    failures: int


class DoneMemory:
    """What this process knows it already did for messages it may receive again.

    Retry envelopes carry what is done in the message itself; where no envelope can
    be used (a FIFO queue, or the envelope could not be stored) the worker keeps the
    actions done here, so a retry this process receives still skips them. A message
    whose delete failed is remembered as settled: it is deleted again later, and if
    it comes back it is only deleted, not run again. Bounded: the oldest entries go
    first. Shared by the pipelines of a worker: every method takes a lock.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._known: OrderedDict[str, tuple[str, ...] | Undeleted] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._known)

    def remember(self, message_id: str, done: Iterable[str]) -> None:
        """Note the actions done for a message."""
        with self._lock:
            self._put(message_id, tuple(done))

    def settle(self, message: SQSMessage) -> int:
        """Note that a settled message could not be deleted; return how often that happened."""
        with self._lock:
            known = self._known.get(message.message_id)
            failures = known.failures + 1 if isinstance(known, Undeleted) else 1
            self._put(message.message_id, Undeleted(message, failures))
            return failures

    def recall(self, message_id: str) -> tuple[str, ...]:
        """The actions remembered as done for a message."""
        with self._lock:
            known = self._known.get(message_id)
        return known if isinstance(known, tuple) else ()

    def settled(self, message_id: str) -> bool:
        """Whether the message is settled and only needs deleting."""
        with self._lock:
            return isinstance(self._known.get(message_id), Undeleted)

    def undeleted(self, most: int) -> list[SQSMessage]:
        """The settled messages whose delete failed at most ``most`` times: to delete again."""
        with self._lock:
            return [
                k.message for k in self._known.values() if isinstance(k, Undeleted) and k.failures <= most
            ]

    def forget(self, message_ids: Iterable[str]) -> None:
        """Drop messages that are gone for good."""
        with self._lock:
            for message_id in message_ids:
                self._known.pop(message_id, None)

    def _put(self, message_id: str, value: tuple[str, ...] | Undeleted) -> None:
        self._known[message_id] = value
        self._known.move_to_end(message_id)
        while len(self._known) > self.size:
            self._known.popitem(last=False)
