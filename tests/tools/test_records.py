"""The simulator's records decode with the protocol package and cover every code table."""

from __future__ import annotations

import io
from collections import defaultdict

from PIL import Image

from facepush.protocol import (
    AbnormalType,
    Alarm,
    AlarmCode,
    AlarmStatus,
    EntryMode,
    Mask,
    Mode,
    Recognition,
    RecognitionType,
    UserType,
    decode_image,
    decode_push,
    dump_json,
)
from facepush.tools.records import RecordFactory

N = 6000


def _decoded(seed: int, images: bool = False) -> list[Recognition | Alarm]:
    factory = RecordFactory(seed=seed, images=images)
    return [decode_push(dump_json(factory.next())).data for _ in range(N)]


def test_records_decode_and_cover_every_code_table() -> None:
    events = _decoded(seed=7)
    recs = [e for e in events if isinstance(e, Recognition)]
    alarms = [e for e in events if isinstance(e, Alarm)]
    assert {r.recognitionType for r in recs} == {m.value for m in RecognitionType}
    assert {r.mask for r in recs} == {m.value for m in Mask}
    assert {r.mode for r in recs} == {m.value for m in Mode}
    assert {r.entry_mode for r in recs} == {m.value for m in EntryMode}
    assert {r.abnormal_type for r in recs} == {m.value for m in AbnormalType}
    assert {r.user.type for r in recs if r.user and r.user.type} == {m.value for m in UserType}
    assert {a.code for a in alarms} == {m.value for m in AlarmCode}
    assert {a.status for a in alarms} == {m.value for m in AlarmStatus}
    # Plausible frequencies: mostly employees passing, a minority of denials and alarms.
    employees = sum(1 for r in recs if r.recognitionType == RecognitionType.EMPLOYEE)
    assert 0.6 < employees / len(recs) < 0.85
    assert 0.05 < sum(1 for r in recs if not r.passed) / len(recs) < 0.35
    assert 0.005 < len(alarms) / N < 0.05


def test_denied_and_fever_records_are_consistent() -> None:
    for rec in _decoded(seed=3):
        if not isinstance(rec, Recognition):
            continue
        if rec.recognitionType in (
            RecognitionType.STRANGER,
            RecognitionType.BLACKLIST,
            RecognitionType.NOT_LIVE,
        ):
            assert rec.passed is False
        if rec.abnormal_type == AbnormalType.ABNORMAL_TEMPERATURE:
            assert rec.bodyTemperature is not None and rec.bodyTemperature >= 37.5
        if rec.abnormal_type != AbnormalType.NONE:
            assert rec.passed is False
        if rec.recognitionType == RecognitionType.STRANGER:
            assert rec.user is not None and rec.user.name is None


def test_alarm_lifecycles_share_a_trace_id_and_end_cleared() -> None:
    lives: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
    for event in _decoded(seed=11, images=False):
        if isinstance(event, Alarm):
            lives[event.trace_id].append((event.status, event.code))
    finished = [life for life in lives.values() if life[-1][0] == AlarmStatus.CLEARED]
    assert len(finished) >= len(lives) - 3  # only the last few may still be open
    for life in lives.values():
        assert life[0][0] == AlarmStatus.RAISED
        assert len({code for _, code in life}) == 1
        assert [s for s, _ in life] in ([1], [1, 3], [1, 2], [1, 2, 3])


def test_snapshots_are_real_jpegs_and_can_be_turned_off() -> None:
    factory = RecordFactory(seed=1)
    record = factory._recognition()
    raw = decode_image(record["data"]["rgb_image"])
    with Image.open(io.BytesIO(raw)) as image:
        assert image.format == "JPEG" and image.size == (96, 120)
    plain = RecordFactory(seed=1, images=False)._recognition()
    assert plain["data"]["rgb_image"] == " "


def test_same_seed_same_records() -> None:
    first = [r["data"].get("uuid") or r["data"]["code"] for r in _take(RecordFactory(seed=5), 300)]
    again = [r["data"].get("uuid") or r["data"]["code"] for r in _take(RecordFactory(seed=5), 300)]
    other = [r["data"].get("uuid") or r["data"]["code"] for r in _take(RecordFactory(seed=6), 300)]
    assert first == again
    assert first != other


def _take(factory: RecordFactory, n: int) -> list[dict[str, object]]:
    return [factory.next() for _ in range(n)]  # type: ignore[misc]


def _uuids(factory: RecordFactory, n: int = 500) -> set[str]:
    return {str(r["data"]["uuid"]) for r in _take(factory, n) if r["type"] == 0}  # type: ignore[index]


def test_distinct_seeds_and_terminals_never_share_uuids() -> None:
    streams = [RecordFactory(seed=s, terminal=t, images=False) for s in (0, 1) for t in (0, 1)]
    seen = [_uuids(f) for f in streams]
    assert sum(len(u) for u in seen) == len(set().union(*seen))  # seed 1 != seed 0 terminal 1
    unseeded = RecordFactory(images=False), RecordFactory(images=False)
    assert unseeded[0].seed != unseeded[1].seed
    assert not _uuids(unseeded[0]) & _uuids(unseeded[1])
