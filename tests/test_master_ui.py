"""The operator's side of the master over real HTTPS: German UI (login, nodes, node detail with
health history, numbers, config, revoke) and the JSON API with the same data."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from master import registry
from master.overview import find_node
from master.testing import RunningMaster, start_master
from node_sync.client import NodeSync, enroll
from tests.master_support import make_node_db

PASSWORD = "sehr-geheimes-passwort"


@pytest.fixture
def master(tmp_path: Path) -> Iterator[RunningMaster]:
    running = start_master(tmp_path / "master")
    with running.app.app_context():
        registry.set_operator("betrieb", PASSWORD)
    yield running
    running.stop()


@pytest.fixture
def browser(master: RunningMaster) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace our CA
        session.verify = str(master.ca_file)
        session.headers["Referer"] = f"{master.url}/"  # as a browser sends it (CSRF over HTTPS)
        yield session


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "form without CSRF token"
    return match.group(1)


def login(browser: requests.Session, master: RunningMaster, password: str = PASSWORD) -> str:
    page = browser.get(f"{master.url}/anmelden")
    answer = browser.post(f"{master.url}/anmelden", data={
        "csrf_token": csrf(page.text), "username": "betrieb", "password": password,
    })
    return answer.text


def post_form(browser: requests.Session, master: RunningMaster, page_path: str, action: str,
              data: dict[str, str]) -> requests.Response:
    page = browser.get(master.url + page_path)
    return browser.post(master.url + action,
                        data={"csrf_token": csrf(page.text), **data})


def test_the_ui_needs_a_login(master: RunningMaster, browser: requests.Session) -> None:
    first = browser.get(f"{master.url}/", allow_redirects=False)
    assert first.status_code == 302 and "/anmelden" in first.headers["Location"]
    assert "Benutzername oder Passwort falsch." in login(browser, master, "falsch-falsch")
    assert "Noch keine Knoten angelegt." in login(browser, master)


def test_operator_creates_a_node_sees_its_health_and_manages_numbers_and_config(
    master: RunningMaster, browser: requests.Session, tmp_path: Path
) -> None:
    login(browser, master)
    created = post_form(browser, master, "/knoten/neu", "/knoten/neu",
                        {"name": "baeckerei-schmidt", "customer": "Bäckerei Schmidt"})
    assert created.status_code == 201
    assert "wird nur jetzt angezeigt" in created.text
    token = re.search(r"--token (\S+)", created.text).group(1)  # type: ignore[union-attr]

    node_dir = tmp_path / "node"
    node_db = make_node_db(node_dir)
    enroll(master.url, token, master.ca_file, node_dir)
    sync = NodeSync(node_dir, node_db, calls_in_progress=lambda: 3,
                    engine_status=lambda: {"stt": "ok", "llm": "fehler"}, rng=random.Random(1))

    detail = "/knoten/baeckerei-schmidt"
    added = post_form(browser, master, detail, f"{detail}/nummern",
                      {"number": "4930123456", "label": "Laden"})
    assert "Rufnummer zugeordnet." in added.text
    saved = post_form(browser, master, detail, f"{detail}/konfiguration", {
        "software_version": "0.2.0", "tts": "piper", "tts_model": "de_DE-thorsten-medium",
        "features": "wissen: an\nrueckruf: aus", "limit_max_concurrent_calls": "3",
    })
    assert "Konfiguration gespeichert" in saved.text
    refused = post_form(browser, master, detail, f"{detail}/konfiguration",
                        {"limit_max_concurrent_calls": "0"})
    assert "Konfiguration nicht gespeichert" in refused.text
    assert master.node("baeckerei-schmidt").desired_config["features"] == {
        "wissen": True, "rueckruf": False}

    assert sync.sync_once().ok
    overview = browser.get(f"{master.url}/").text
    assert "baeckerei-schmidt" in overview and "In Ordnung" in overview
    page = browser.get(master.url + detail).text
    assert "Zustandsverlauf" in page and "<td>3</td>" in page
    assert "stt: Bereit" in page and "llm: Fehler" in page
    numbers = browser.get(f"{master.url}/nummern").text
    assert "4930123456" in numbers and "Laden" in numbers

    revoked = post_form(browser, master, detail, f"{detail}/sperren", {})
    assert "Knoten gesperrt, 1 Zertifikat(e) widerrufen." in revoked.text
    assert not sync.sync_once().ok


def test_forms_without_csrf_token_are_refused(
    master: RunningMaster, browser: requests.Session
) -> None:
    login(browser, master)
    answer = browser.post(f"{master.url}/knoten/neu",
                          data={"name": "ohne-token"})
    assert answer.status_code == 400
    with master.app.app_context():
        assert find_node("ohne-token") is None


def test_json_api_offers_the_same_data_and_actions(
    master: RunningMaster, tmp_path: Path
) -> None:
    api = f"{master.url}/api/v1"
    ca = str(master.ca_file)
    assert requests.get(f"{api}/nodes", verify=ca, timeout=10).status_code == 401
    assert requests.get(f"{api}/nodes", verify=ca, timeout=10,
                        auth=("betrieb", "falsch-falsch")).status_code == 401

    with requests.Session() as s:
        s.trust_env, s.verify, s.auth = False, ca, ("betrieb", PASSWORD)
        created = s.post(f"{api}/nodes", json={"name": "kunde-a", "customer": "A GmbH"})
        assert created.status_code == 201
        token = created.json()["enrollment_token"]
        assert s.post(f"{api}/nodes", json={"name": "Kunde A"}).status_code == 400

        bad = s.put(f"{api}/nodes/kunde-a/config", json={"config": {"engines": {"stt": "x"}}})
        assert bad.status_code == 400 and "keine erlaubte Wahl" in bad.json()["error"]
        good = s.put(f"{api}/nodes/kunde-a/config",
                     json={"config": {"limits": {"max_call_seconds": 600}}})
        assert good.status_code == 200 and good.json()["config_version"] == 2
        assert s.post(f"{api}/numbers", json={"node": "kunde-a", "number": "4930123456"}
                      ).status_code == 201
        assert s.post(f"{api}/numbers", json={"node": "kunde-a", "number": "4930123456"}
                      ).status_code == 409
        # the same line spelt another way is not routed a second time
        assert s.post(f"{api}/numbers", json={"node": "kunde-a", "number": "+4930123456"}
                      ).status_code == 409
        assert s.get(f"{api}/numbers").json()["numbers"] == [
            {"number": "4930123456", "label": "", "node": "kunde-a"}]

        node_dir = tmp_path / "node"
        enroll(master.url, token, master.ca_file, node_dir)
        assert NodeSync(node_dir, make_node_db(node_dir), calls_in_progress=lambda: 1,
                        rng=random.Random(1)).sync_once().ok

        listed = s.get(f"{api}/nodes").json()["nodes"]
        assert [(n["name"], n["health"], n["calls_in_progress"]) for n in listed] == [
            ("kunde-a", "In Ordnung", 1)]
        detail = s.get(f"{api}/nodes/kunde-a").json()
        assert detail["applied_config_version"] == detail["config_version"] == 3
        assert detail["latest_health"]["disk_free_bytes"] > 0
        [report] = s.get(f"{api}/nodes/kunde-a/health").json()["health"]
        assert report["calls_in_progress"] == 1 and report["sync_gap"] is None

        assert s.delete(f"{api}/numbers/+4930123456").status_code == 204
        assert s.post(f"{api}/nodes/kunde-a/revoke").json() == {"revoked_certificates": 1}
        assert s.get(f"{api}/nodes/kunde-a").json()["state"] == "gesperrt"
        assert s.get(f"{api}/nodes/unbekannt").status_code == 404
