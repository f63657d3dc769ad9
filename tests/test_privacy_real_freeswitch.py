"""The recording announcement through the real FreeSWITCH: a loopback caller dials the
product's dialplan, FreeSWITCH's ``socket`` app reaches the node, and what the caller records
on its own leg starts with the announcement, then the greeting (tests/real_freeswitch.py)."""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest

from media.testing import ScriptedLLM, ScriptedSTT
from models import PhoneNumber, db
from tests.call_lab import NUMBER, CallLab
from tests.real_freeswitch import RealFreeSwitch, caller_speech, freeswitch_tree  # noqa: F401
from tests.speech import concat, pause
from tests.test_privacy_calls import ANNOUNCEMENT, ANNOUNCEMENT_HZ, OTHER_HZ, TextTones, heard_tones

pytestmark = pytest.mark.slow


def _off_hub(fn, *args, **kwargs):  # noqa: ANN001, ANN202
    """The harness blocks on real sockets; the node runs on the gevent hub meanwhile."""
    return gevent.get_hub().threadpool.apply(fn, args, kwargs)


@pytest.fixture
def node(tmp_path) -> Iterator[CallLab]:
    lab = CallLab(data_dir=tmp_path / "node")
    lab.stt = ScriptedSTT(["Nein danke, tschüss."])
    lab.llm = ScriptedLLM([{"reply": "Auf Wiederhören!", "action": "end", "target": "none"}])
    lab.tts = TextTones(ms_per_char=12.0, min_ms=400.0)
    lab.start().seed_practice()
    with lab.node.db_app.app_context():
        number = db.session.scalar(db.select(PhoneNumber).filter_by(number=NUMBER))
        number.announcement_enabled, number.announcement_text = True, ANNOUNCEMENT
        db.session.commit()
    yield lab
    lab.stop()


def test_through_the_real_freeswitch_the_caller_hears_the_announcement_first(
        node: CallLab, freeswitch_tree, tmp_path) -> None:  # noqa: F811
    fs = RealFreeSwitch.create(freeswitch_tree, tmp_path / "fs",
                               esl_hosts=[f"127.0.0.1:{node.port}"])
    _off_hub(fs.start)
    try:
        says = concat(pause(3000), caller_speech("Nein danke, tschüss."), pause(500))
        call = _off_hub(fs.call, NUMBER, says, caller_number="491701234567", hold_ms=4000)
        _off_hub(call.wait_ended, 60)
        heard = _off_hub(call.heard)
    finally:
        _off_hub(fs.stop)
    tones = heard_tones(heard.pcm, heard.sample_rate)
    assert tones[:2] == [ANNOUNCEMENT_HZ, OTHER_HZ], tones  # announcement, then greeting
    assert tones.count(ANNOUNCEMENT_HZ) == 1
    node.node.controller.wait_idle(timeout=15)
    with node.node.db_app.app_context():
        from models import Chat

        chat = db.session.scalars(db.select(Chat)).one()
        assert [t.text for t in chat.turns][:2] == [ANNOUNCEMENT, "Praxis Test, guten Tag!"]
        assert len(chat.recordings) == 1
