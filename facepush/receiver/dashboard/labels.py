"""The code tables of the protocol as the dashboard reads them, built from
`facepush.protocol.codes` at request time so that one place owns every label."""

from __future__ import annotations

from facepush.protocol.codes import (
    AbnormalType,
    AlarmCode,
    AlarmStatus,
    CodeTable,
    EntryMode,
    EventType,
    Mask,
    Mode,
    RecognitionType,
    UserType,
)

# The table names the page uses, each with the code table it shows.
TABLES: dict[str, type[CodeTable]] = {
    "type": EventType,
    "recognitionType": RecognitionType,
    "mask": Mask,
    "mode": Mode,
    "entry_mode": EntryMode,
    "abnormal_type": AbnormalType,
    "user_type": UserType,
    "alarm_code": AlarmCode,
    "alarm_status": AlarmStatus,
}

LabelTable = dict[str, dict[str, dict[str, str]]]


def labels_table() -> LabelTable:
    """`{table: {code: {"en": ..., "zh": ...}}}`, codes as strings (JSON object keys)."""
    return {
        name: {str(int(member)): {"en": member.en, "zh": member.zh} for member in table}
        for name, table in TABLES.items()
    }
