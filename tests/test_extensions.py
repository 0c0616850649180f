"""Extensions: installed packages whose configure.zcml loads through an entry point."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zope.component.testing
from zope.component import getGlobalSiteManager, getUtility, queryUtility
from zope.event import notify

from briefy.choreographer.admin.introspect import choreography
from briefy.choreographer.config import Settings
from briefy.choreographer.errors import StartupError
from briefy.choreographer.events import IInternalEvent, internal_event, parse_event
from briefy.choreographer.events.outbox import PlanningOutbox
from briefy.choreographer.site import extensions, load_site, reset_site
from briefy.common.interfaces import IQueue
from tests.packages import SLACK, install_extension, install_project
from tests.support import LEAD_DATA, event


def zcml(body: str) -> str:
    """A configure.zcml holding ``body``."""
    return f'<configure xmlns="http://namespaces.zope.org/zope">{body}</configure>'


GOOD_ZCML = zcml('<include package="briefy.choreographer" />')


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A site-packages stand-in on sys.path, a clean registry; its modules forgotten after."""
    target = tmp_path / "site-packages"
    target.mkdir()
    monkeypatch.syspath_prepend(str(target))
    zope.component.testing.setUp()
    reset_site()
    yield target
    zope.component.testing.tearDown()
    reset_site()
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", "") or "").startswith(str(target)):
            del sys.modules[name]


def wiring(event_name: str) -> list[tuple[str, int, str]]:
    """(action, weight, queue) of each registered action of an event."""
    return [
        (a.name, a.weight, a.queue)
        for a in choreography(getGlobalSiteManager())
        if a.event_name == event_name
    ]


def plan(body: dict[str, Any]) -> list[Any]:
    """The actions an event message plans, in order, as the worker plans them."""
    registry = getGlobalSiteManager()
    outbox = PlanningOutbox(dict(registry.getUtilitiesFor(IQueue)))
    message = parse_event(json.dumps(body))
    notify(internal_event(message, outbox, registry))
    return outbox.planned


def test_installed_extension_is_found(site: Path) -> None:
    """The fixture package's entry point is discovered as an installed extension."""
    install_project(SLACK, site)
    [found] = extensions(Settings())
    assert (found.name, found.value, found.dist.name) == (
        "slack",
        "slack_extension",
        "choreographer-slack-example",
    )  # type: ignore[union-attr]


def test_extension_joins_the_choreography(site: Path) -> None:
    """Its queue, event and actions are registered next to the reference ones."""
    install_project(SLACK, site)
    load_site(Settings())
    assert getUtility(IQueue, name="slack.queue").default_queue_name == "slack"
    assert queryUtility(IInternalEvent, name="deal.won") is not None
    assert wiring("lead.created") == [
        ("lead.created.mail", 100, "mail.queue"),
        ("slack.lead.created", 200, "slack.queue"),
    ]


def test_extension_action_plans_its_payload(site: Path) -> None:
    """lead.created plans the mail first, then the Slack message with its payload."""
    install_project(SLACK, site)
    load_site(Settings())
    lead = event("lead.created", LEAD_DATA)
    mail, slack = plan(lead)
    assert (mail.name, slack.name) == ("lead.created.mail", "slack.lead.created")
    payload = json.loads(slack.message.body)
    assert payload["channel"] == "#sales"
    assert payload["text"] == "New internal lead: Ada Lovelace (other)"
    assert payload["request_id"] == lead["request_id"] == slack.message.attributes["request_id"]


def test_extension_event_runs_its_handler(site: Path) -> None:
    """The new deal.won event reaches the extension's handler and action."""
    install_project(SLACK, site)
    load_site(Settings())
    data = {"title": "Acme", "amount": 1200, "currency": "EUR", "owner": "Grace"}
    [won] = plan(event("deal.won", data))
    assert json.loads(won.message.body)["text"] == "Deal won: Acme (1200 EUR) by Grace"


def test_site_include_and_entry_point_load_once(site: Path, tmp_path: Path) -> None:
    """A site file that also includes the extension loads it once: each action planned once."""
    install_project(SLACK, site)
    zcml = tmp_path / "site.zcml"
    zcml.write_text(
        '<configure xmlns="http://namespaces.zope.org/zope">'
        '<include package="briefy.choreographer" /><include package="slack_extension" /></configure>'
    )
    load_site(Settings(zcml=str(zcml)))
    assert [p.name for p in plan(event("lead.created", LEAD_DATA))] == [
        "lead.created.mail",
        "slack.lead.created",
    ]


def test_extensions_setting_none_loads_only_the_site(site: Path) -> None:
    """CHOREOGRAPHER_EXTENSIONS=none leaves installed extensions out."""
    install_project(SLACK, site)
    load_site(Settings.from_env({"CHOREOGRAPHER_EXTENSIONS": "none"}))
    assert queryUtility(IQueue, name="slack.queue") is None


def test_extensions_setting_with_an_unknown_name_fails(site: Path) -> None:
    """Naming an extension that is not installed stops start-up, listing what is installed."""
    install_project(SLACK, site)
    with pytest.raises(StartupError, match=r"'teams', which is not installed; installed: slack"):
        load_site(Settings.from_env({"CHOREOGRAPHER_EXTENSIONS": "slack, teams"}))


def test_two_packages_declaring_one_extension_name_fail(site: Path) -> None:
    """Two distributions claiming the same extension name stop start-up, naming both."""
    install_extension(site, "acme-one", "twin", "twin_one", {"__init__.py": "", "configure.zcml": GOOD_ZCML})
    install_extension(site, "acme-two", "twin", "twin_two", {"__init__.py": "", "configure.zcml": GOOD_ZCML})
    with pytest.raises(StartupError, match=r"extension 'twin'.*acme-(one|two) 0\.1.*acme-(one|two) 0\.1"):
        load_site(Settings())


def test_extensions_setting_reads_a_list() -> None:
    """The setting is a comma-separated list; unset means every installed extension."""
    assert Settings.from_env({}).extensions is None
    assert Settings.from_env({"CHOREOGRAPHER_EXTENSIONS": "NONE"}).extensions == ()
    assert Settings.from_env({"CHOREOGRAPHER_EXTENSIONS": " a, b ,"}).extensions == ("a", "b")


def test_malformed_zcml_names_the_extension(site: Path) -> None:
    """An extension whose configure.zcml is not XML stops start-up, naming it."""
    install_extension(
        site, "acme-broken", "broken", "broken_xml", {"__init__.py": "", "configure.zcml": "<configure"}
    )
    with pytest.raises(StartupError) as raised:
        load_site(Settings())
    message = str(raised.value)
    assert "extension 'broken'" in message and "acme-broken 0.1" in message and "configure.zcml" in message


def test_bad_registration_names_the_extension(site: Path) -> None:
    """A registration naming a missing class stops start-up, naming the extension."""
    bad = zcml('<utility factory=".nope.Missing" name="x.queue" />')
    install_extension(
        site, "acme-missing", "missing", "broken_dotted", {"__init__.py": "", "configure.zcml": bad}
    )
    with pytest.raises(StartupError, match=r"(?s)extension 'missing'.*broken_dotted\.nope"):
        load_site(Settings())


def test_conflicting_registration_names_the_extension(site: Path) -> None:
    """An extension registering a queue the package already has is a conflict, named."""
    clash = zcml('<utility factory="briefy.choreographer.queues.mail.MailQueue" name="mail.queue" />')
    install_extension(
        site, "acme-clash", "clash", "clashing_ext", {"__init__.py": "", "configure.zcml": clash}
    )
    with pytest.raises(StartupError, match=r"(?s)with extension 'clash'.*[Cc]onflict"):
        load_site(Settings())


def test_unimportable_extension_is_named(site: Path) -> None:
    """An entry point naming a package that cannot be imported stops start-up, naming it."""
    install_extension(
        site, "acme-ghost", "ghost", "ghost_ext", {"__init__.py": "raise ImportError('no deps')"}
    )
    with pytest.raises(StartupError, match=r"cannot import extension 'ghost'.*ImportError: no deps"):
        load_site(Settings())


def test_extension_writing_to_an_unknown_queue_fails_the_wiring_check(site: Path) -> None:
    """An extension action whose queue is not registered is caught by the wiring check."""
    actions = (
        "from zope.component import adapter\n"
        "from briefy.choreographer.actions import Action\n"
        "from briefy.choreographer.data.lead import LeadDTO\n"
        "from briefy.choreographer.events.lead import ILeadCreated\n\n"
        "@adapter(LeadDTO, ILeadCreated)\n"
        "class Lost(Action):\n"
        "    _queue_name = 'nowhere.queue'\n"
    )
    files = {
        "__init__.py": "",
        "actions.py": actions,
        "configure.zcml": zcml('<adapter factory=".actions.Lost" name="lost" />'),
    }
    install_extension(site, "acme-lost", "lost", "lost_ext", files)
    with pytest.raises(StartupError, match=r"'lost' writes to 'nowhere.queue'"):
        load_site(Settings())


def test_a_good_extension_without_actions_loads(site: Path) -> None:
    """An extension that only includes the package loads without changing anything."""
    install_extension(
        site, "acme-empty", "empty", "empty_ext", {"__init__.py": "", "configure.zcml": GOOD_ZCML}
    )
    load_site(Settings())
    assert wiring("lead.created") == [("lead.created.mail", 100, "mail.queue")]


def tutorial_blocks() -> list[tuple[str, str]]:
    """(fixture file, code) of each tutorial block (docs/extending.rst) introduced by a fixture path."""
    lines = (Path(__file__).parent.parent / "docs" / "extending.rst").read_text().splitlines()
    found = []
    for i, line in enumerate(lines):
        if not line.rstrip().endswith("::"):
            continue
        start = i
        while start > 0 and lines[start - 1].strip():
            start -= 1
        paragraph = " ".join(lines[start : i + 1])
        indent = len(line) - len(line.lstrip())
        block = []
        for following in lines[i + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            block.append(following)
        paths = [p for p in re.findall(r"``([\w./-]+)``", paragraph) if (SLACK / p).is_file()]
        if paths:
            found.append((paths[-1], textwrap.dedent("\n".join(block)).strip("\n")))
    return found


def test_the_tutorial_matches_the_example_package() -> None:
    """Each code block of docs/extending.rst ("Add an event and an action") is text of the fixture package."""
    blocks = tutorial_blocks()
    assert {path for path, _ in blocks} >= {
        "src/slack_extension/events.py",
        "src/slack_extension/data.py",
        "src/slack_extension/subscribers.py",
        "src/slack_extension/queues.py",
        "src/slack_extension/actions.py",
        "src/slack_extension/configure.zcml",
        "pyproject.toml",
    }
    for path, code in blocks:
        source = (SLACK / path).read_text()
        indented = [textwrap.indent(code, " " * n) for n in (0, 2, 4)]
        assert any(candidate in source for candidate in indented), path


def test_the_site_file_is_the_setting_then_the_checkouts_then_the_packaged_one(tmp_path: Path) -> None:
    """CHOREOGRAPHER_ZCML wins; run from a checkout, its root configure.zcml; else the packaged site.zcml."""
    from briefy.choreographer.site import CHECKOUT, site_zcml

    assert site_zcml(Settings(zcml="/etc/site.zcml")) == "/etc/site.zcml"
    assert site_zcml(Settings()) == str(CHECKOUT / "configure.zcml")  # the tests run from a checkout
    assert site_zcml(Settings(), checkout=tmp_path).endswith("briefy/choreographer/site.zcml")


def test_a_broken_site_file_stops_start_up_naming_it(site: Path, tmp_path: Path) -> None:
    """A site configure.zcml that does not load is a start-up error naming the file."""
    broken = tmp_path / "configure.zcml"
    broken.write_text(zcml('<include package="no.such.package" />'))
    with pytest.raises(StartupError, match=re.escape(str(broken))):
        load_site(Settings(zcml=str(broken)))
