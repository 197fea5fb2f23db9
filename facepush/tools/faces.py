"""Small, real JPEG snapshots made locally with Pillow: a face-like drawing per person,
and a door photo for alarms. Deterministic for a given seed."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

from facepush.protocol.images import encode_image

SIZE = (96, 120)
_SKIN = [(241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172)]
_HAIR = [(35, 25, 20), (90, 60, 30), (20, 20, 20), (160, 120, 60), (120, 120, 120)]


def face_jpeg(seed: int, quality: int = 70) -> bytes:
    """A face-like snapshot: background, head, hair, eyes and mouth in seeded colours."""
    rng = random.Random(seed)
    width, height = SIZE
    background = tuple(rng.randint(150, 230) for _ in range(3))
    image = Image.new("RGB", SIZE, background)
    draw = ImageDraw.Draw(image)
    skin, hair = rng.choice(_SKIN), rng.choice(_HAIR)
    top = rng.randint(14, 24)
    draw.ellipse((18, top, width - 18, height - 10), fill=skin)
    draw.chord((14, top - 6, width - 14, top + 40), 180, 360, fill=hair)
    eye_y = top + rng.randint(34, 40)
    for x in (34, width - 34):
        draw.ellipse((x - 5, eye_y - 3, x + 5, eye_y + 3), fill=(255, 255, 255))
        draw.ellipse((x - 2, eye_y - 2, x + 2, eye_y + 2), fill=(40, 30, 30))
    mouth_y = eye_y + rng.randint(26, 32)
    draw.arc((36, mouth_y - 8, width - 36, mouth_y + 6), 20, 160, fill=(150, 60, 60), width=2)
    return _jpeg(image, quality)


def door_jpeg(seed: int, quality: int = 70) -> bytes:
    """An alarm photo: a door frame with an open gap."""
    rng = random.Random(seed)
    image = Image.new("RGB", (128, 96), (70, 70, 80))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 10, 88, 92), fill=(120, 90, 60), outline=(30, 30, 30), width=3)
    gap = rng.randint(4, 18)
    draw.rectangle((88 - gap, 12, 86, 90), fill=(230, 230, 200))
    return _jpeg(image, quality)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


class ImagePool:
    """Base64 snapshots made once per person and reused, so simulation stays cheap."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._faces: dict[int, str] = {}
        self._doors: dict[int, str] = {}

    def face(self, person: int) -> str:
        if person not in self._faces:
            self._faces[person] = encode_image(face_jpeg(self._seed * 100_003 + person))
        return self._faces[person]

    def door(self, variant: int) -> str:
        key = variant % 8
        if key not in self._doors:
            self._doors[key] = encode_image(door_jpeg(self._seed * 7 + key))
        return self._doors[key]
