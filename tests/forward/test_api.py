"""/api/forward and its set-aside list and replay, as the OpenAPI document says (closed
item schemas, checked against real replies), and the per-sink Prometheus metrics."""

from __future__ import annotations

from urllib.parse import quote

import jsonschema_rs
import yaml

from facepush.receiver import Store
from facepush.receiver.app import OPENAPI
from facepush.receiver.settings import Tuning
from tests.forward.consumers import WebhookConsumer
from tests.support.forward import FAST, records, until
from tests.support.receiver import configured, reply_validator, running


async def test_replies_and_metrics_are_what_the_document_says(store: Store) -> None:
    hook = WebhookConsumer()
    await hook.start()
    stored = records(12)
    hook.answer = lambda key, item: 422 if key == stored[3].key else 200
    store.ingest(stored)
    settings = configured(store.url, forward=(hook.settings("hook"),))
    document = yaml.safe_load(OPENAPI.read_text())
    try:
        async with running(settings, store, Tuning(forward=FAST)) as rx:
            await until(rx, lambda s: s["set_aside"] == 1 and s["pending"] == 0)
            status = await rx.get("/api/forward")
            aside = await rx.get("/api/forward/hook/set-aside")
            async with rx.session.post(rx.url + "/api/forward/hook/replay", json={}) as resp:
                replay = await resp.json()
            async with rx.session.get(rx.url + "/metrics") as resp:
                metrics = await resp.text()
    finally:
        await hook.stop()
    for path, reply in (
        ("/api/forward", status),
        ("/api/forward/{name}/set-aside", aside),
    ):
        errors = [e.message for e in reply_validator(document, path).iter_errors(reply)]
        assert not errors, (path, errors)
    path = quote("/api/forward/{name}/replay".replace("/", "~1"), safe="~")
    pointer = f"#/paths/{path}/post/responses/200/content/application~1json/schema"
    posted = jsonschema_rs.Draft202012Validator({**document, "$ref": pointer})
    assert not [e.message for e in posted.iter_errors(replay)]
    assert replay["data"] == {"replaying": 1}
    [item] = status["data"]["items"]
    assert (item["name"], item["kind"], item["forwarded"], item["pending"]) == (
        "hook",
        "webhook",
        11,
        0,
    )
    assert item["state"] in {"idle", "forwarding"} and item["leased"] is True
    # The check can fail: an undocumented field is caught.
    bad = {**status, "data": {"items": [{**item, "extra": 1}]}}
    assert not reply_validator(document, "/api/forward").is_valid(bad)
    for line in (
        'facepush_forward_forwarded_total{sink="hook"} 11',
        'facepush_forward_pending{sink="hook"} 0',
        'facepush_forward_set_aside{sink="hook"} 1',
        'facepush_forward_leased{sink="hook"} 1',
    ):
        assert line in metrics, line
    assert 'facepush_forward_lag_seconds{sink="hook"}' in metrics
    assert 'facepush_forward_failures_total{sink="hook"} ' in metrics
