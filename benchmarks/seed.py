"""The seed's original behaviour, for comparison: one event per receive, then a 0.5 s nap.

``python -m benchmarks.seed`` (settings from the environment,
like the worker) bootstraps the same choreography as the worker and runs the
original loop on it: receive one message (short poll), fire its event, let
each action write its own payload with SendMessage, delete the message, sleep
0.5 s, again.
"""

from __future__ import annotations

from typing import Any

from structlog.contextvars import bound_contextvars
from zope.event import notify

from benchmarks.loop import stop_on_signals
from briefy.choreographer.bootstrap import bootstrap
from briefy.choreographer.config import Settings
from briefy.choreographer.events import event_factory, parse_event
from briefy.choreographer.logging import configure_logging
from briefy.common.queue import Queue

#: The original worker's pause between polls, in seconds.
INTERVAL = 0.5


def process(queue: Queue) -> int:
    """One turn of the original loop; return how many events it handled."""
    messages = queue.get_messages(1, wait_time=0)
    for message in messages:
        event = parse_event(message.body, message.message_id)
        with bound_contextvars(event_id=event.id, event_name=event.event_name, guid=event.guid):
            # No outbox given: the event's ImmediateOutbox runs each action, which writes its payload.
            notify(event_factory(event.event_name)(event))
        queue.client.delete_message(QueueUrl=queue.url, ReceiptHandle=message.receipt_handle)
    return len(messages)


def main() -> int:
    """Run the original loop until SIGTERM or SIGINT."""
    stop = stop_on_signals()
    settings = Settings.from_env()
    configure_logging(settings)
    app = bootstrap(settings)
    events: Any = app.events
    while not stop.is_set():
        process(events)
        stop.wait(INTERVAL)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
