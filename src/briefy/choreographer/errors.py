"""Errors of the choreography; each names the outcome the worker gives it."""

from __future__ import annotations


class BadInput(Exception):
    """A message that can never be choreographed: it goes to the dead-letter queue.

    ``error_type`` is a short snake_case reason (``invalid_json``, ``missing_field``,
    ``invalid_payload``, ...); ``event_name`` is filled in when it was known.
    """

    def __init__(self, error_type: str, message: str, event_name: str = "") -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.event_name = event_name


class ActionError(BadInput):
    """An action could not turn the event's data into a payload its queue accepts."""

    def __init__(self, action: str, error_type: str, message: str, event_name: str = "") -> None:
        super().__init__(error_type, f"{action}: {message}", event_name)
        self.action = action
