"""``choreographer graph``: the live registry drawn as Mermaid and DOT, and the docs' picture of it."""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from zope.component import adapter, getGlobalSiteManager

from briefy.choreographer.actions import Action, IAction
from briefy.choreographer.cli.graph import Graph, build, dot, mermaid
from briefy.choreographer.config import Settings
from briefy.choreographer.data.lead import LeadDTO
from briefy.choreographer.events.lead import ILeadCreated
from briefy.choreographer.site import load_site

DOCS = Path(__file__).resolve().parent.parent / "docs"


def mermaid_edges(text: str) -> set[tuple[str, str]]:
    return set(re.findall(r"^\s+(\w+) (?:-->|-\. .* \.->) (\w+)$", text, re.MULTILINE))


def dot_edges(text: str) -> set[tuple[str, str]]:
    return set(re.findall(r"^\s+(\w+) -> (\w+)", text, re.MULTILINE))


def test_reference_choreography_is_drawn_from_queue_to_queue(registry: Any) -> None:
    """events queue -> lead.created -> LeadHandler -> lead.created.mail -> mail.queue, and mail.sent."""
    edges = mermaid_edges(mermaid(build(load_site(Settings()))))
    chain = [
        "queue_events_queue",
        "event_lead_created",
        "handler_lead_created_LeadHandler",
        "action_lead_created_mail",
        "queue_mail_queue",
    ]
    assert set(itertools.pairwise(chain)) <= edges
    assert ("handler_mail_sent_MailHandler", "action_mail_sent_notification") in edges
    assert ("action_mail_sent_notification", "queue_notification_queue") in edges
    assert ("queue_events_queue", "queue_dead_letters") in edges


def test_actions_show_weight_and_condition(registry: Any) -> None:
    """Each action's node names its weight and its ``available`` condition."""
    text = mermaid(build(load_site(Settings())))
    assert "lead.created.mail<br/>weight 100<br/>when: Only internal leads get the mail" in text
    assert "mail.sent.notification<br/>weight 100<br/>when: always" in text


def test_handler_without_actions_is_drawn_once(registry: Any) -> None:
    """The logger, reached by every event, is one node with an edge from each event."""
    text = mermaid(build(load_site(Settings())))
    assert text.count('handler_logger_handler["logger.handler"]') == 1
    sources = {s for s, t in mermaid_edges(text) if t == "handler_logger_handler"}
    assert sources == {"event_lead_created", "event_mail_sent", "event_any_other_name"}


def test_dot_has_the_same_edges_as_mermaid(registry: Any) -> None:
    """Both formats draw the same graph."""
    graph = build(load_site(Settings()))
    text = dot(graph)
    assert text.startswith("digraph choreography {") and text.endswith("}")
    assert dot_edges(text) == mermaid_edges(mermaid(graph))


def test_queues_are_named_as_the_settings_name_them(registry: Any) -> None:
    """Queue nodes show the SQS queue the settings give each utility, and a FIFO DLQ."""
    settings = Settings(
        queue_names={"CHOREOGRAPHER_MAIL_QUEUE": "acme-mail", "CHOREOGRAPHER_EVENTS_QUEUE": "ev.fifo"}
    )
    text = mermaid(build(load_site(settings)))
    assert "mail.queue<br/>SQS: acme-mail" in text
    assert "events.queue<br/>SQS: ev.fifo" in text
    assert "dead letters<br/>SQS: events-dlq.fifo" in text


@adapter(LeadDTO, ILeadCreated)
class EarlyAudit(Action):
    """A fake second action on lead.created, running before the mail."""

    weight = 10
    _queue_name = "notification.queue"

    @property
    def available(self) -> bool:
        """Leads with a category"""
        return bool(self.data.category)


def test_newly_registered_actions_appear_in_weight_order(registry: Any) -> None:
    """An action added to the registry shows up, ordered by weight, with its condition."""
    getGlobalSiteManager().registerAdapter(EarlyAudit, provided=IAction, name="lead.created.audit")
    text = mermaid(build(load_site(Settings())))
    assert "lead.created.audit<br/>weight 10<br/>when: Leads with a category" in text
    assert ("action_lead_created_audit", "queue_notification_queue") in mermaid_edges(text)
    assert text.index("action_lead_created_audit(") < text.index("action_lead_created_mail(")


def test_labels_are_escaped() -> None:
    """Quotes and angle brackets in labels cannot break either format."""
    graph = Graph()
    graph.node("action", "k", "k", 'say "hi" <b>', "back\\slash")
    assert '"say #quot;hi#quot; #lt;b#gt;<br/>back\\slash"' in mermaid(graph)
    assert 'label="say \\"hi\\" <b>\\nback\\\\slash"' in dot(graph)


def docs_extension() -> Any:
    """The docs' local Sphinx extension (docs/_ext/choreography_graph.py), imported by path."""
    spec = importlib.util.spec_from_file_location(
        "choreography_graph", DOCS / "_ext" / "choreography_graph.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_docs_draw_what_the_command_prints() -> None:
    """The graph the docs render at build time is exactly what `choreographer graph` prints."""
    script = shutil.which("choreographer", path=str(Path(sys.executable).parent))
    assert script, "the console script is installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHOREOGRAPHER_")}
    result = subprocess.run(
        [script, "graph"], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    text = docs_extension().graph_text()
    assert text.startswith("flowchart LR") and "queue_mail_queue" in text
    assert text == result.stdout.strip()


def test_the_contract_page_shows_the_graph() -> None:
    """docs/contract.rst draws the reference choreography with the build-time directive."""
    assert "\n.. choreography-graph::\n" in (DOCS / "contract.rst").read_text(encoding="utf-8")
