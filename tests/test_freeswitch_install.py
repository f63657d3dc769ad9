"""freeswitch_conf.install: what an operator's /etc/freeswitch looks like afterwards (the real
FreeSWITCH reading it is tests/test_real_freeswitch_calls.py)."""

from __future__ import annotations

import pytest

from freeswitch_conf.install import VARS_INCLUDE, Carrier, install, main

VANILLA_VARS = """<include>
  <X-PRE-PROCESS cmd="set" data="domain=$${local_ip_v4}"/>
</include>
"""


@pytest.fixture
def etc(tmp_path):
    conf = tmp_path / "etc" / "freeswitch"
    (conf / "sip_profiles").mkdir(parents=True)
    (conf / "vars.xml").write_text(VANILLA_VARS, encoding="utf-8")
    (conf / "sip_profiles" / "internal.xml").write_text("<profile/>", encoding="utf-8")
    return conf


def test_install_fills_every_placeholder_and_includes_the_vars_on_their_own_line(etc, tmp_path):
    sounds = tmp_path / "sounds"
    done = install(etc, sounds, Carrier(realm="sip.carrier.example", username="kunde1",
                                        password="geheim"), fallback_number="030 123-450")
    main_vars = (etc / "vars.xml").read_text("utf-8").splitlines()
    assert main_vars.index("  " + VARS_INCLUDE) == main_vars.index("</include>") - 1
    profile = (etc / "sip_profiles" / "voicegate.xml").read_text("utf-8")
    esl = (etc / "autoload_configs" / "event_socket.conf.xml").read_text("utf-8")
    assert "value=\"VOICEGATE_" not in profile + esl
    assert '<param name="proxy" value="sip.carrier.example"/>' in profile  # proxy = realm
    assert f'<param name="password" value="{done.esl_password}"/>' in esl
    assert len(done.esl_password) == 32
    assert "voicegate_fallback_number=030123450" in (etc / "voicegate" / "vars.xml").read_text()
    assert (etc / "dialplan" / "voicegate.xml").is_file()
    assert (etc / "directory" / "default" / "voicegate.xml").is_file()
    assert sorted(p.name for p in (sounds / "voicegate" / "de").iterdir()) == [
        "entschuldigung.wav", "niemand_erreichbar.wav"]
    assert (etc / "sip_profiles" / "internal.xml.off").exists()
    assert not (etc / "sip_profiles" / "internal.xml").exists()


def test_running_it_again_keeps_the_password_and_adds_no_second_include(etc, tmp_path):
    carrier = Carrier(realm="sip.carrier.example")
    first = install(etc, tmp_path / "sounds", carrier)
    second = install(etc, tmp_path / "sounds", carrier)
    assert second.esl_password == first.esl_password
    assert (etc / "vars.xml").read_text("utf-8").count(VARS_INCLUDE) == 1


def test_values_that_would_break_the_xml_are_refused(etc, tmp_path, capsys):
    with pytest.raises(ValueError, match="Carrier-Passwort"):
        install(etc, tmp_path / "s", Carrier(realm="sip.example", password='a"b'))
    assert main(["--conf", str(tmp_path / "nothing"), "--carrier-realm", "x"]) == 1
    assert "kein FreeSWITCH-Konfigurationsordner" in capsys.readouterr().err
