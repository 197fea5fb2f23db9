"""The C load generator: Debian's `wrk` with bench/push.lua, making unique SenseTime pushes.

The body is prepared here once, as a template with placeholders (see push.lua); wrk then
only splices a counter into it per request, so that its CPU goes into HTTP, not into
building records. Every uuid carries a per-run nonce, so that no run repeats another's
records (a duplicate is acknowledged without being stored, and would flatter the rate).
"""

from __future__ import annotations

import base64
import io
import json
import os
import resource
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bench.harness import ROOT
from bench.records import record

SCRIPT = ROOT / "bench" / "push.lua"
UUID_MARK = "@@@@@@@@-uuid-uuid-uuid-@@@@@@@@@@@@"  # 36 characters, like a real uuid
TAIL_MARK = "#" * 32  # becomes 32 hex digits: valid base64 that ends the snapshot
_RESULT = "FACEPUSH_WRK "


def snapshot_jpeg(size_bytes: int) -> bytes:
    """A real JPEG of at least `size_bytes`: the project's drawn face (facepush.tools.faces),
    scaled up with a little sensor-like noise, as a terminal's camera snapshot would be."""
    from PIL import Image

    from facepush.tools.faces import face_jpeg

    face = Image.open(io.BytesIO(face_jpeg(1)))
    width = 96
    while True:
        size = (width, width * 5 // 4)
        noise = Image.effect_noise(size, 24).convert("RGB")
        image = Image.blend(face.resize(size, Image.Resampling.BICUBIC), noise, 0.08)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=85)
        if out.tell() >= size_bytes:
            return out.getvalue()
        width += 16


def template(path: Path, snapshot: int) -> int:
    """Write the body template (a recognition, with a `snapshot`-byte JPEG when non-zero)
    to `path`; returns the size of every body made from it."""
    image_b64 = None
    if snapshot:
        image = snapshot_jpeg(snapshot)
        image += b"\0" * (-len(image) % 3)  # its base64 then ends without '=' padding
        image_b64 = base64.b64encode(image).decode() + TAIL_MARK
    body = record(UUID_MARK, image_b64)
    path.write_bytes(body)
    return len(body)


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: run scripts/bench-tools (make bench does)")
    return found


def run(
    url: str,
    template_path: Path,
    *,
    conns: int,
    seconds: int,
    threads: int = 1,
    check: bool = True,
) -> dict[str, Any]:
    """One wrk run; its counts and latencies (µs), the nonce of its uuids, and the CPU
    seconds wrk itself used."""
    nonce = secrets.token_hex(4)  # wrk takes whole seconds only
    args = [wrk_path(), "-t", str(threads), "-c", str(conns), "-d", f"{seconds}s"]
    args += ["--timeout", "30s", "-s", str(SCRIPT), url, "--"]
    args += [str(template_path), nonce, "1" if check else "0"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=seconds + 60, check=False, cwd=ROOT
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len(_RESULT) :])
    result["nonce"] = nonce
    result["wrk_cpu_s"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["rate"] = ok(result) / (result["duration_us"] / 1e6)
    return result


def _bad_replies(result: dict[str, Any]) -> int:
    # wrk counts statuses > 399 itself; push.lua every status but 200 (when checking).
    return int(max(result["errors_status"], result["bad_status"]) + result["bad_body"])


def ok(result: dict[str, Any]) -> int:
    """Replies that were a success: status 200 with `"code":200` in the body."""
    return int(result["requests"]) - _bad_replies(result)


def failures(result: dict[str, Any]) -> int:
    """Replies that were not a success, and requests that got no reply."""
    errors = sum(result[f"errors_{k}"] for k in ("connect", "read", "write", "timeout"))
    return _bad_replies(result) + int(errors)


if __name__ == "__main__":  # python -m bench.wrk URL [SNAPSHOT]: one run, for trying out
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "body.json"
        template(body, int(sys.argv[2]) if len(sys.argv) > 2 else 0)
        check = os.environ.get("CHECK", "1") == "1"
        threads = int(os.environ.get("THREADS", "1"))
        print(json.dumps(run(sys.argv[1], body, conns=64, seconds=5, check=check, threads=threads)))
