"""The dashboard's server side: labels from facepush.protocol.codes, the page's asset links."""

from __future__ import annotations

import json
import re

from facepush.protocol.codes import AbnormalType, AlarmCode, UserType
from facepush.receiver.dashboard import STATIC, render_index
from facepush.receiver.dashboard.labels import TABLES, labels_table


def test_labels_come_from_the_code_tables() -> None:
    table = labels_table()
    assert set(table) == set(TABLES)
    assert table["abnormal_type"]["70001"] == {"en": "wrong PIN", "zh": "PIN码错误"}
    assert table["alarm_code"]["10002"]["en"] == AlarmCode.DOOR_FORCED.en
    assert len(table["abnormal_type"]) == len(AbnormalType)
    assert table["user_type"].keys() == {str(int(m)) for m in UserType}
    json.dumps(table)  # plain JSON


def test_index_links_every_module_with_the_token() -> None:
    page = render_index("t&k")
    modules = {p.name for p in (STATIC / "js").glob("*.js")}
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page).group(1))
    assert set(imports["imports"]) == {f"/static/js/{name}" for name in modules}
    assert all(url.endswith("&token=t%26k") for url in imports["imports"].values())
    assert 'src="/static/js/main.js?v=' in page and "token=t%26k" in page
    assert "<!--facepush:head-->" not in page


def test_index_escapes_a_hostile_token() -> None:
    page = render_index('"></script><script>alert(1)</script>')
    assert "<script>alert(1)" not in page
    assert page.count("</script>") == 2  # the import map's and main.js's, nothing injected
