"""One suite for every history backend: the history interface's contract (filters,
priority, paging, sort, limit, total, retention, snapshots), and the vendor's item shape."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from facepush.device.history import History, HistoryEntry, entry_of
from facepush.device.memory_history import MemoryHistory
from facepush.device.outbox import NewRecord
from facepush.device.sqlite_history import SQLiteHistory, queries
from facepush.errors import DecodeError
from facepush.protocol import decode_object
from facepush.protocol.history import HistoryQuery, history_item, parse_query
from facepush.protocol.jsontext import dump_json
from facepush.protocol.models import Recognition

Factory = Callable[..., History]


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    opened: list[History] = []

    def factory(limit: int = 1000, images: int = 1000) -> History:
        history: History
        if request.param == "memory":
            history = MemoryHistory(limit, images)
        else:
            history = SQLiteHistory(tmp_path / "history.sqlite3", limit, images)
        opened.append(history)
        return history

    yield factory
    for history in opened:
        history.close()


def entry(
    n: int, ts: int, user: str = "", job: str = "", ic: str = "", image: str = ""
) -> HistoryEntry:
    item = {"uuid": f"u{n}", "timestamp": ts, "rgb_image": ""}
    return HistoryEntry(f"u{n}", ts, user, job, ic, dump_json(item), image or None)


def uuids(history: History, **query: Any) -> list[str]:
    return [json.loads(item)["uuid"] for item, _ in history.find(HistoryQuery(**query)).items]


def test_time_bounds_are_inclusive_and_ties_keep_the_order_added(make: Factory) -> None:
    history = make()
    # accept order 1..6; times out of order (a clock set back), two ties at 200
    history.add([entry(1, 100), entry(2, 200), entry(3, 150), entry(4, 200), entry(5, 300)])
    history.add([entry(6, 50)])
    assert uuids(history) == ["u6", "u1", "u3", "u2", "u4", "u5"]
    assert uuids(history, descending=True) == ["u5", "u2", "u4", "u3", "u1", "u6"]
    assert uuids(history, begin_time=150, end_time=200) == ["u3", "u2", "u4"]
    assert uuids(history, begin_time=200) == ["u2", "u4", "u5"]
    assert uuids(history, end_time=100) == ["u6", "u1"]


def test_offset_limit_count_and_total(make: Factory) -> None:
    history = make()
    history.add([entry(n, 1000 + n) for n in range(10)])
    page = history.find(HistoryQuery(begin_time=1002, offset=3, limit=4))
    assert page.total == 8
    assert [json.loads(i)["uuid"] for i, _ in page.items] == ["u5", "u6", "u7", "u8"]
    assert history.find(HistoryQuery(offset=9, limit=4)).items[0][0] == entry(9, 1009).item
    assert history.find(HistoryQuery(offset=10)).items == []
    only_total = history.find(HistoryQuery(limit=0))
    assert (only_total.total, only_total.items) == (10, [])
    assert uuids(history, descending=True, offset=2, limit=2) == ["u7", "u6"]


def test_each_identity_filter(make: Factory) -> None:
    history = make()
    history.add(
        [
            entry(1, 10, user="5", job="J1", ic="C1"),
            entry(2, 20, user="6", job="J1", ic="C2"),
            entry(3, 30, user="5", job="J2", ic="C2"),
            entry(4, 40),  # an unknown face
        ]
    )
    assert uuids(history, filter_field="user_id", filter_value="5") == ["u1", "u3"]
    assert uuids(history, filter_field="job_number", filter_value="J1") == ["u1", "u2"]
    assert uuids(history, filter_field="ic_number", filter_value="C2", begin_time=25) == ["u3"]
    assert history.find(HistoryQuery(filter_field="user_id", filter_value="7")).total == 0


def test_a_uuid_is_kept_once(make: Factory) -> None:
    history = make()
    assert history.add([entry(1, 10), entry(2, 20)]) == 2
    assert history.add([entry(2, 99), entry(3, 30), entry(3, 30)]) == 1
    assert history.count() == 3
    assert uuids(history) == ["u1", "u2", "u3"]  # the first u2 (time 20) stays


def test_retention_drops_the_oldest_by_the_order_added(make: Factory) -> None:
    history = make(limit=3)
    history.add([entry(1, 500), entry(2, 100)])
    history.add([entry(3, 300), entry(4, 200), entry(5, 50)])
    assert history.count() == 3
    assert uuids(history) == ["u5", "u4", "u3"]  # u1 and u2 made first, dropped first
    assert history.find(HistoryQuery()).total == 3


def test_snapshots_are_kept_for_the_newest_records_only(make: Factory) -> None:
    history = make(images=2)
    history.add([entry(1, 10, image="AAA"), entry(2, 20), entry(3, 30, image="CCC")])
    history.add([entry(4, 40, image="DDD")])
    images = [image for _, image in history.find(HistoryQuery()).items]
    assert images == [None, None, "CCC", "DDD"]


def test_no_snapshot_is_kept_with_images_0(make: Factory) -> None:
    history = make(images=0)
    history.add([entry(9, 9, image="X")])
    assert history.find(HistoryQuery()).items == [(entry(9, 9).item, None)]


def test_sqlite_history_survives_reopening_and_a_lower_limit_trims_it(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    history = SQLiteHistory(path, limit=10, images=10)
    history.add([entry(n, n, image="IMG") for n in range(1, 6)])
    history.close()
    history = SQLiteHistory(path, limit=3, images=1)
    try:
        assert history.count() == 3
        page = history.find(HistoryQuery())
        assert [json.loads(i)["uuid"] for i, _ in page.items] == ["u3", "u4", "u5"]
        assert [image for _, image in page.items] == [None, None, "IMG"]
        history.add([entry(6, 6)])
        assert uuids(history) == ["u4", "u5", "u6"]
    finally:
        history.close()


@pytest.mark.parametrize(
    "query",
    [
        HistoryQuery(),
        HistoryQuery(begin_time=5, end_time=9, offset=50_000, descending=True),
        HistoryQuery(filter_field="user_id", filter_value="5", begin_time=1),
        HistoryQuery(filter_field="job_number", filter_value="J", descending=True),
        HistoryQuery(filter_field="ic_number", filter_value="C", end_time=9),
    ],
)
def test_every_sqlite_query_reads_history_through_an_index(
    tmp_path: Path, query: HistoryQuery
) -> None:
    history = SQLiteHistory(tmp_path / "history.sqlite3")
    try:
        count, page, args = queries(query)
        for sql, params in ((count, args), (page, [*args, 1, 1])):
            plan = [row[3] for row in history._db.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
            on_history = [step for step in plan if step.split()[1] == "history"]
            assert on_history and all("COVERING INDEX" in step for step in on_history), plan
            assert not [step for step in plan if step.startswith("SCAN h ")], plan
    finally:
        history.close()


# --- the request body and the vendor's item shape --------------------------------------


def test_query_rules_of_the_vendor_document(vectors: Path) -> None:
    vendor = json.loads((vectors / "api" / "vendor-event-records-request.json").read_text())
    assert parse_query(vendor) == HistoryQuery(
        begin_time=1678784160, end_time=1778784400, offset=3, limit=3
    )
    assert parse_query(None) == HistoryQuery()  # every field optional; limit 100
    assert parse_query({"begin_time": 0, "end_time": "", "limit": 500}).limit == 200
    both = parse_query({"user_id": "5", "job_number": "J", "ic_number": "C"})
    assert (both.filter_field, both.filter_value) == ("user_id", "5")
    assert (
        parse_query({"user_id": "", "job_number": "J", "ic_number": "C"}).filter_field
        == "job_number"
    )
    assert parse_query({"ic_number": "C"}).filter_field == "ic_number"
    assert parse_query({"sort": 1}).descending is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"begin_time": 200, "end_time": 100}, "end_time"),
        ({"begin_time": -1}, "begin_time"),
        ({"end_time": 1.5}, "end_time"),
        ({"begin_time": 1678784160000}, "begin_time"),  # milliseconds
        ({"limit": -1}, "limit"),
        ({"offset": "3"}, "offset"),
        ({"sort": 2}, "sort"),
        ({"sort": True}, "sort"),
        ({"user_id": ["5"]}, "user_id"),
        ({"userid": "5"}, "userid"),
        ([1], "body"),
    ],
)
def test_a_bad_query_names_the_field(body: Any, field: str) -> None:
    with pytest.raises(DecodeError) as caught:
        parse_query(body)
    assert caught.value.path == field


def test_items_are_shaped_exactly_like_the_vendors_example(vectors: Path) -> None:
    reply = json.loads((vectors / "api" / "vendor-event-records-reply.json").read_text())
    for item in reply["data"]["items"]:
        # What the terminal pushed for it: groups inside user, and user fields history omits.
        data = {k: v for k, v in item.items() if k != "groups"}
        data["user"] = {**item["user"], "groups": item["groups"], "remark": "", "pin": ""}
        if item["user"]["user_id"] == "":
            data["user"] = {"name": None, "user_id": None, "type": None, "groups": []}
        push = decode_object({"type": 0, "data": data})
        assert isinstance(push.data, Recognition)
        shaped = history_item(push.data, item["rgb_image"] or None)
        assert json.dumps(shaped, ensure_ascii=False) == json.dumps(item, ensure_ascii=False)


def test_entry_of_a_cached_record() -> None:
    record = {
        "type": 0,
        "data": {
            "uuid": "x-1",
            "timestamp": 1685343715123,  # milliseconds by mistake: history lists seconds
            "rgb_image": " ",
            "user": {"name": "王五", "user_id": 5, "type": 1, "job_number": "23385"},
            "groups": [{"id": 3, "name": "测试3"}],  # beside user, old firmware
        },
    }
    got = entry_of(NewRecord(0, "r:x-1", dump_json(record)))
    assert got is not None
    assert (got.uuid, got.timestamp, got.user_id, got.job_number, got.ic_number) == (
        "x-1",
        1685343715,
        "5",
        "23385",
        "",
    )
    assert got.image is None
    item = json.loads(got.item)
    assert item["groups"] == [{"id": "3", "name": "测试3"}] and item["user"]["type"] == 1
    alarm = {"type": 1, "data": {"trace_id": "T", "event_time": 1, "status": 1}}
    assert entry_of(NewRecord(1, "a:T:1:1", dump_json(alarm))) is None
