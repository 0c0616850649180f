"""Fault injection through botocore's own event hooks (no patching)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError


def failure(how: str, operation: str) -> Exception:
    """The exception a failing call raises: a connection error, throttling or a 5xx."""
    if how == "connection":
        return EndpointConnectionError(endpoint_url="http://injected.invalid")
    codes = {
        "throttle": ("ThrottlingException", 400),
        "5xx": ("InternalError", 500),
        "denied": ("AccessDenied", 403),
    }
    code, status = codes[how]
    return ClientError(
        {"Error": {"Code": code, "Message": "injected"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


@dataclass
class Rule:
    operation: str
    remaining: int
    how: str
    when: Callable[[dict[str, Any]], bool] | None


class Faults:
    """Makes chosen SQS operations of one client fail, a given number of times."""

    def __init__(self, client: Any) -> None:
        self.rules: list[Rule] = []
        self.injected: dict[str, int] = {}
        client.meta.events.register("before-parameter-build.sqs", self._hook)

    def fail(
        self,
        operation: str,
        times: int = 1,
        how: str = "connection",
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``operation`` whose parameters match ``when`` fail."""
        self.rules.append(Rule(operation, times, how, when))

    def _hook(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        for rule in self.rules:
            if (
                rule.operation == model.name
                and rule.remaining > 0
                and (rule.when is None or rule.when(params))
            ):
                rule.remaining -= 1
                self.injected[model.name] = self.injected.get(model.name, 0) + 1
                raise failure(rule.how, model.name)


def to_queue(fragment: str) -> Callable[[dict[str, Any]], bool]:
    """A ``when`` matching calls whose QueueUrl ends with ``fragment``."""
    return lambda params: str(params.get("QueueUrl", "")).endswith(fragment)
