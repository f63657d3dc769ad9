"""The customer VM's FreeSWITCH configuration: a call is never just dropped."""

from __future__ import annotations

import array
import math
import re
import shutil
import subprocess
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from freeswitch_conf.dialplan import (
    CONF_DIR,
    DIALPLAN_PATH,
    SOUNDS_DIR,
    VARS_PATH,
    expand,
    load_extension_actions,
    load_vars,
    local_variables,
)
from freeswitch_conf.render import render_vars, write_vars

XML_FILES = sorted(CONF_DIR.rglob("*.xml"))
PROFILE = CONF_DIR / "sip_profiles" / "voicegate.xml"
EVENT_SOCKET = CONF_DIR / "autoload_configs" / "event_socket.conf.xml"
DIRECTORY = CONF_DIR / "directory" / "voicegate.xml"
FALLBACK_BRIDGE = "sofia/gateway/carrier/${voicegate_fallback_number}"
# Applications of mod_dptools / mod_event_socket / mod_voicemail / mod_sofia we rely on.
KNOWN_APPS = {
    "set", "multiset", "answer", "playback", "bridge", "voicemail", "socket", "transfer", "hangup",
}


def apps(actions: list[tuple[str, str]]) -> list[str]:
    return [app for app, _ in actions]


def index_after(actions: list[tuple[str, str]], app: str, start: int) -> int:
    for i in range(start, len(actions)):
        if actions[i][0] == app:
            return i
    raise AssertionError(f"no {app!r} after position {start} in {apps(actions)}")


def assert_fallback_sequence(actions: list[tuple[str, str]], start: int) -> None:
    """answer → playback of a real WAV → bridge to the fallback number → voicemail, in order,
    and voicemail is the last thing the call does."""
    answer = index_after(actions, "answer", start)
    playback = index_after(actions, "playback", answer)
    bridge = index_after(actions, "bridge", playback)
    voicemail = index_after(actions, "voicemail", bridge)
    assert voicemail == len(actions) - 1
    assert actions[bridge][1].endswith(FALLBACK_BRIDGE)
    variables = local_variables()
    sound = Path(expand(actions[playback][1], variables))
    assert sound.is_file(), sound
    assert actions[voicemail][1].split()[0] == "default"
    assert actions[voicemail][1].split()[-1] == "${voicegate_voicemail_box}"
    # mod_voicemail would greet and prompt in English; the German WAV said it all already
    quiet = {d for a, d in actions[bridge:voicemail] if a == "multiset"}
    assert any("skip_greeting=true" in d and "skip_instructions=true" in d for d in quiet)
    sets = {data for app, data in actions[:bridge] if app == "set"}
    assert {"continue_on_fail=true", "hangup_after_bridge=true"} <= sets


# ---------------------------------------------------------------- well-formed, FreeSWITCH rules


def test_there_is_a_config_for_every_part() -> None:
    names = {p.relative_to(CONF_DIR).as_posix() for p in XML_FILES}
    assert {"vars.xml", "autoload_configs/event_socket.conf.xml", "sip_profiles/voicegate.xml",
            "dialplan/voicegate.xml", "directory/voicegate.xml"} <= names


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: p.relative_to(CONF_DIR).as_posix())
def test_xml_is_well_formed_and_survives_the_preprocessor(path: Path) -> None:
    ET.parse(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        # FreeSWITCH's preprocessor drops whole lines that contain <include> or </include>
        if "<include>" in line or "</include>" in line:
            assert line.strip() in ("<include>", "</include>"), line
        # ... and data="..." of X-PRE-PROCESS is read up to the next quote, without entities
        if "X-PRE-PROCESS" in line:
            assert "&" not in line, line


def test_dialplan_uses_only_known_applications() -> None:
    root = ET.parse(DIALPLAN_PATH).getroot()
    used = {a.get("application") for a in root.iter("action")}
    assert used <= KNOWN_APPS, used - KNOWN_APPS


# ---------------------------------------------------------------- dialplan behaviour


@pytest.mark.parametrize("called", ["4930123456", "+4930123456", "030123456"])
def test_inbound_call_goes_to_the_controller_then_falls_back(called: str) -> None:
    actions = load_extension_actions(DIALPLAN_PATH, "voicegate", called)
    socket = apps(actions).index("socket")
    expanded = expand(actions[socket][1], local_variables())
    assert expanded == "127.0.0.1:8084 async full"
    before = {data for app, data in actions[:socket] if app == "set"}
    assert {"continue_on_fail=true", "hangup_after_bridge=true", "socket_resume=true"} <= before
    assert any(d.startswith("park_timeout=") for d in before)
    assert "answer" not in apps(actions[:socket])  # the controller answers
    assert_fallback_sequence(actions, socket + 1)


def test_park_timeout_hangs_up_with_a_cause_freeswitch_knows() -> None:
    actions = load_extension_actions(DIALPLAN_PATH, "voicegate", "4930123456")
    value = next(d for a, d in actions if a == "set" and d.startswith("park_timeout="))
    seconds, cause = value.removeprefix("park_timeout=").split(":")
    assert int(seconds) >= 1800 and cause == "ALLOTTED_TIMEOUT"


def test_socket_targets_every_configured_controller_in_order(tmp_path: Path) -> None:
    content = render_vars("", "", ["10.0.0.5:8084", "10.0.0.6:9000"])
    variables = load_vars(_written(content, tmp_path))
    actions = load_extension_actions(DIALPLAN_PATH, "voicegate", "4930123456", variables)
    assert ("socket", "10.0.0.5:8084|10.0.0.6:9000 async full") in actions


def test_controller_fallback_extension_apologises_bridges_and_ends_in_voicemail() -> None:
    actions = load_extension_actions(DIALPLAN_PATH, "voicegate", "voicegate_fallback")
    assert "socket" not in apps(actions)  # no loop back into a failing controller
    assert_fallback_sequence(actions, 0)


def test_transfer_context_bridges_the_number_and_ends_in_voicemail() -> None:
    actions = load_extension_actions(DIALPLAN_PATH, "voicegate_transfer", "+4930999111")
    bridge = apps(actions).index("bridge")
    assert actions[bridge][1].endswith("sofia/gateway/carrier/+4930999111")
    sets = {data for app, data in actions[:bridge] if app == "set"}
    assert "continue_on_fail=true" in sets and "hangup_after_bridge=true" in sets
    playback = index_after(actions, "playback", bridge)
    assert Path(expand(actions[playback][1], local_variables())).is_file()
    assert apps(actions)[-1] == "voicemail"


@pytest.mark.parametrize("target", ["1234;evil", "sofia/gateway/x/1", "", "voicegate_fallback"])
def test_transfer_context_refuses_anything_but_a_number(target: str) -> None:
    assert load_extension_actions(DIALPLAN_PATH, "voicegate_transfer", target) == []


def test_fully_expanded_fallback_dials_the_customers_number(tmp_path: Path) -> None:
    variables = load_vars(_written(render_vars("+49 170 1234567", "200"), tmp_path),
                          {"sounds_dir": "/usr/share/freeswitch/sounds", "domain": "10.1.1.1"})
    actions = load_extension_actions(DIALPLAN_PATH, "voicegate", "voicegate_fallback", variables)
    assert ("bridge", "{originate_timeout=30}sofia/gateway/carrier/+491701234567") in actions
    assert ("voicemail", "default 10.1.1.1 200") in actions
    assert ("playback", "/usr/share/freeswitch/sounds/voicegate/de/entschuldigung.wav") in actions


def test_every_voicegate_variable_the_dialplan_reads_is_written_by_render() -> None:
    text = DIALPLAN_PATH.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(voicegate_[a-z_]+)\}", text))
    assert used and used <= set(load_vars(VARS_PATH))


def test_contexts_and_gateway_fit_together() -> None:
    profile = ET.parse(PROFILE).getroot()
    settings = {p.get("name"): p.get("value") for p in profile.find("settings")}
    gateway = profile.find("gateways/gateway[@name='carrier']")
    assert gateway is not None
    gw = {p.get("name"): p.get("value") for p in gateway}
    dialplan_contexts = {c.get("name") for c in ET.parse(DIALPLAN_PATH).getroot().iter("context")}
    assert settings["context"] == gw["context"] == "voicegate"
    assert "voicegate_transfer" in dialplan_contexts and settings["context"] in dialplan_contexts
    assert gw["extension"] == "auto_to_user"  # the DID becomes destination_number
    assert settings["disable-register"] == "true"


def test_event_socket_listens_on_loopback_only_with_a_placeholder_password() -> None:
    root = ET.parse(EVENT_SOCKET).getroot()
    assert root.get("name") == "event_socket.conf"
    params = {p.get("name"): p.get("value") for p in root.iter("param")}
    assert params["listen-ip"] == "127.0.0.1"
    assert params["apply-inbound-acl"] == "loopback.auto"
    assert params["password"] == "VOICEGATE_ESL_PASSWORD"


def test_voicemail_box_is_a_mailbox_that_cannot_register() -> None:
    user = ET.parse(DIRECTORY).getroot().find("user")
    assert user is not None and user.get("id") == "$${voicegate_voicemail_box}"
    params = {p.get("name"): p.get("value") for p in user.iter("param")}
    assert params["sip-forbid-register"] == "true"
    assert "password" not in params


# ---------------------------------------------------------------- sounds


@pytest.mark.parametrize("name", ["entschuldigung.wav", "niemand_erreichbar.wav"])
def test_apology_wav_is_8khz_mono_speech(name: str) -> None:
    _assert_speech_wav(SOUNDS_DIR / "de" / name)


def test_make_sounds_regenerates_the_wavs(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.fail("espeak-ng and sox are part of the node's dependencies")
    subprocess.run([str(CONF_DIR / "make_sounds.sh"), str(tmp_path)], check=True, timeout=60)
    for name in ("entschuldigung.wav", "niemand_erreichbar.wav"):
        _assert_speech_wav(tmp_path / name)


def _assert_speech_wav(path: Path) -> None:
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        frames = wav.readframes(wav.getnframes())
        seconds = wav.getnframes() / wav.getframerate()
    assert 2.0 < seconds < 15.0
    samples = array.array("h", frames)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    assert rms > 500  # clearly audible, not silence
    assert path.stat().st_size < 300_000


# ---------------------------------------------------------------- render.py


def _written(content: str, directory: Path) -> Path:
    path = directory / "vars.xml"
    path.write_text(content, encoding="utf-8")
    return path


def test_committed_vars_xml_is_what_render_writes_for_defaults() -> None:
    assert VARS_PATH.read_text(encoding="utf-8") == render_vars("", "", ["127.0.0.1:8084"])


def test_render_vars_from_customer_settings(tmp_path: Path) -> None:
    content = render_vars("0170 / 123 45-67", "200", "127.0.0.1:8084|10.0.0.2:8084")
    ET.fromstring(content)
    values = load_vars(_written(content, tmp_path), {"sounds_dir": "/snd"})
    assert values["voicegate_fallback_number"] == "01701234567"
    assert values["voicegate_voicemail_box"] == "200"
    assert values["voicegate_esl_hosts"] == "127.0.0.1:8084|10.0.0.2:8084"
    assert values["voicegate_sounds_dir"] == "/snd/voicegate"


def test_render_vars_empty_box_gets_the_default_mailbox() -> None:
    assert 'data="voicegate_voicemail_box=voicegate"' in render_vars("", "  ")


@pytest.mark.parametrize(
    ("fallback", "box", "hosts", "message"),
    [
        ("030 123|sofia/gateway/evil/1", "200", ["127.0.0.1:8084"], "Rückfallnummer"),
        ("+49 30 abc", "200", ["127.0.0.1:8084"], "Rückfallnummer"),
        ("1", "200", ["127.0.0.1:8084"], "Rückfallnummer"),
        ("030123", "2 00", ["127.0.0.1:8084"], "Sprachpostfach"),
        ("030123", 'a"b', ["127.0.0.1:8084"], "Sprachpostfach"),
        ("030123", "200", ["127.0.0.1"], "Controller-Adresse"),
        ("030123", "200", ["127.0.0.1:0"], "Controller-Adresse"),
        ("030123", "200", ["127.0.0.1:8084 async"], "Controller-Adresse"),
        ("030123", "200", ["[::1]:8084"], "Controller-Adresse"),
        ("030123", "200", [], "Controller-Adresse"),
    ],
)
def test_render_vars_rejects_values_freeswitch_must_not_see(
        fallback: str, box: str, hosts: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_vars(fallback, box, hosts)


def test_write_vars_writes_only_on_change(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "voicegate" / "vars.xml"
    first = render_vars("030123456", "200")
    assert write_vars(target, first) is True
    assert write_vars(target, first) is False
    assert write_vars(target, render_vars("030999", "200")) is True
    assert "030999" in target.read_text(encoding="utf-8")
    assert [p.name for p in target.parent.iterdir()] == ["vars.xml"]  # no temp files left


# ---------------------------------------------------------------- dialplan.py semantics

HUNT_XML = """<include>
  <context name="t">
    <extension name="log" continue="true">
      <condition field="destination_number" expression="^(\\d\\d)(\\d+)$">
        <action application="set" data="area=$1 rest=$2 none=$3"/>
      </condition>
    </extension>
    <extension name="first">
      <condition field="destination_number" expression="^1">
        <action application="answer"/>
        <anti-action application="set" data="not_one=true"/>
      </condition>
    </extension>
  </context>
  <context name="p">
    <extension name="partial">
      <condition field="destination_number" expression="^2">
        <action application="set" data="two=true"/>
      </condition>
      <condition field="caller_id_number" expression="^555$">
        <action application="bridge" data="x"/>
      </condition>
    </extension>
    <extension name="last">
      <condition field="destination_number" expression="^2" break="on-true">
        <action application="hangup" data="NORMAL_CLEARING"/>
      </condition>
      <condition>
        <action application="never"/>
      </condition>
    </extension>
  </context>
</include>
"""


@pytest.fixture()
def hunt_xml(tmp_path: Path) -> Path:
    path = tmp_path / "hunt.xml"
    path.write_text(HUNT_XML, encoding="utf-8")
    return path


def test_hunt_continue_captures_and_first_match(hunt_xml: Path) -> None:
    actions = load_extension_actions(hunt_xml, "t", "1234")
    assert actions == [("set", "area=12 rest=34 none="), ("answer", "")]


def test_hunt_anti_action_counts_as_a_match(hunt_xml: Path) -> None:
    # "first" fails but has an anti-action: FreeSWITCH stops hunting there
    actions = load_extension_actions(hunt_xml, "t", "2345", fields={"caller_id_number": "1"})
    assert actions == [("set", "area=23 rest=45 none="), ("set", "not_one=true")]


def test_hunt_keeps_actions_of_a_partly_matching_extension_and_goes_on(hunt_xml: Path) -> None:
    no_vip = load_extension_actions(hunt_xml, "p", "200", fields={"caller_id_number": "1"})
    assert no_vip == [("set", "two=true"), ("hangup", "NORMAL_CLEARING")]
    vip = load_extension_actions(hunt_xml, "p", "200", fields={"caller_id_number": "555"})
    assert vip == [("set", "two=true"), ("bridge", "x")]


def test_hunt_without_match_is_empty_and_errors_are_loud(hunt_xml: Path) -> None:
    assert load_extension_actions(DIALPLAN_PATH, "voicegate", "hello") == []
    with pytest.raises(ValueError, match="no context"):
        load_extension_actions(hunt_xml, "nope", "1")
    nested = hunt_xml.with_name("nested.xml")
    nested.write_text('<include><context name="t"><extension name="n">'
                      '<condition field="destination_number" expression="1"><condition/>'
                      '</condition></extension></context></include>', encoding="utf-8")
    with pytest.raises(ValueError, match="nested"):
        load_extension_actions(nested, "t", "1")


def test_hunt_unknown_field_is_an_error_not_a_silent_miss(tmp_path: Path) -> None:
    path = tmp_path / "f.xml"
    path.write_text('<include><context name="t"><extension name="x">'
                    '<condition field="network_addr" expression="^10\\."/>'
                    '</extension></context></include>', encoding="utf-8")
    with pytest.raises(ValueError, match="network_addr"):
        load_extension_actions(path, "t", "1")
    assert load_extension_actions(path, "t", "1", fields={"network_addr": "10.0.0.1"}) == []


def test_load_vars_is_line_based_like_the_preprocessor(tmp_path: Path) -> None:
    path = tmp_path / "vars.xml"
    path.write_text(
        "<include>\n"
        '  <X-PRE-PROCESS cmd="set" data="a = 1"/>\n'
        '  <X-PRE-PROCESS cmd="set" data="b=$${a}/x/$${unknown}"/>\n'
        '  <!-- <X-PRE-PROCESS cmd="set" data="c=3"/> -->\n'
        "  <!--\n"
        '  <X-PRE-PROCESS cmd="set" data="d=4"/>\n'
        "  -->\n"
        "</include>\n", encoding="utf-8")
    assert load_vars(path) == {"a": "1", "b": "1/x/"}
