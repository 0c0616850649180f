"""What the queue tools share: their SQS client, SQS errors said plainly, the events queue."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from briefy.choreographer.cli.common import USAGE, fail
from briefy.choreographer.clients import tool_client
from briefy.choreographer.config import Settings
from briefy.choreographer.errors import StartupError
from briefy.choreographer.site import CHECKOUT, Site, from_checkout
from briefy.common.errors import QueueNotFound, error_code
from briefy.common.interfaces import IQueue
from briefy.common.queue import Queue
from briefy.common.queue.event import EVENTS_QUEUE, EventQueue


def not_running(checkout: Path = CHECKOUT) -> str:
    """The hint for an embedded endpoint that does not answer: how to start the worker
    (``make run`` only where there is a Makefile to run it, in a checkout)."""
    command = "make run" if from_checkout(checkout) else "choreographer worker"
    return f" (is the worker running? start it with: {command})"


def client_for(settings: Settings) -> Any:
    """The SQS client of the tools: the worker's endpoint (in development, its embedded one)."""
    try:
        return tool_client(settings)
    except StartupError as error:
        fail(str(error), USAGE)


@contextmanager
def talking_to(client: Any, settings: Settings) -> Iterator[None]:
    """Turn SQS failures inside the block into one clear error line and exit code."""
    endpoint = client.meta.endpoint_url
    try:
        yield
    except QueueNotFound as error:
        fail(
            f"the queue {error.args[0]!r} does not exist at {endpoint}: create the queues with "
            "`choreographer queues create`, or name existing ones (CHOREOGRAPHER_*_QUEUE)",
            USAGE,
        )
    except NoCredentialsError:
        fail(
            "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile)", USAGE
        )
    except BotoCoreError as error:
        fail(f"cannot reach SQS at {endpoint}: {error}{not_running() if settings.embedded else ''}")
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        fail(f"SQS at {endpoint} refused {error.operation_name}: {error_code(error)}: {message}")


def events_and_dead_letters(client: Any, site: Site) -> tuple[EventQueue, Queue]:
    """The events queue and its DLQ, bound as the worker binds them (raises QueueNotFound)."""
    settings = site.settings
    events: EventQueue = site.registry.getUtility(IQueue, name=EVENTS_QUEUE)
    events.connect(client, settings.queue_name(events.name, events.default_queue_name))
    dead_letters = events.connect_dead_letters(client, settings.dead_letter_queue)
    return events, dead_letters
