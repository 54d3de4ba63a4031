"""Mainland China licence plates (GA 36): normalisation and validation.

Formats accepted (the ones that park on Beijing's roads):
* ordinary, 7 characters: province + issuing-office letter + 5 of [A-Z0-9 without I/O],
  e.g. 京A12345, 京N8P9Q2;
* small new-energy vehicles, 8 characters: province + letter + D (electric) or F (hybrid)
  + one letter or digit + 4 digits, e.g. 京AD12345, 京AFA1234;
* large new-energy vehicles, 8 characters: province + letter + 5 digits + D/F, e.g. 京A12345D;
* trailer (挂), coach (学), police (警) and Hong Kong/Macau cross-border (港, 澳) plates:
  6 characters + that suffix, e.g. 京A1234学, 粤Z1234港.

Input is forgiving — spaces, middle dots, dashes, lower case and full-width letters are
normalised away — the stored form is strict: ``京AD12345``.
"""

from __future__ import annotations

import re
import unicodedata

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_SERIAL = "[A-HJ-NP-Z0-9]"  # I and O are never issued (they read as 1 and 0)
_PATTERNS = (
    ("ordinary", re.compile(rf"^[{PROVINCES}][A-HJ-NP-Z]{_SERIAL}{{5}}$")),
    ("new_energy_small", re.compile(rf"^[{PROVINCES}][A-HJ-NP-Z][DF]{_SERIAL}[0-9]{{4}}$")),
    ("new_energy_large", re.compile(rf"^[{PROVINCES}][A-HJ-NP-Z][0-9]{{5}}[DF]$")),
    ("special", re.compile(rf"^[{PROVINCES}][A-HJ-NP-Z]{_SERIAL}{{4}}[挂学警港澳]$")),
)
_NOISE = re.compile(r"[\s·•.\-_]")


class PlateError(ValueError):
    """Not a mainland plate; the message says why (one line, shown to the caller)."""


def normalise_plate(raw: str) -> str:
    """Upper-case, half-width, separators removed; no validation."""
    text = unicodedata.normalize("NFKC", raw or "")
    return _NOISE.sub("", text).upper()


def plate_kind(plate: str) -> str | None:
    """The format of an already normalised plate, or None."""
    for kind, pattern in _PATTERNS:
        if pattern.match(plate):
            return kind
    return None


def validate_plate(raw: str) -> str:
    """The normalised plate, or PlateError saying what is wrong."""
    plate = normalise_plate(raw)
    if not plate:
        raise PlateError("车牌号不能为空")
    if plate[0] not in PROVINCES:
        raise PlateError(f"车牌号须以省份简称开头：{plate[:1]}")
    if len(plate) not in (7, 8):
        raise PlateError(f"车牌号须为 7 位（普通）或 8 位（新能源）：{len(plate)} 位")
    if any(ch in "IO" for ch in plate[1:]):
        raise PlateError("车牌号不含字母 I 和 O")
    if plate_kind(plate) is None:
        raise PlateError("车牌号格式不正确")
    return plate
