"""Plate normalisation and validation (mainland formats, 8-character new-energy plates)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govcenter.core.masking import mask_plate
from govcenter.parking.plates import PROVINCES, PlateError, normalise_plate, plate_kind, validate_plate

SERIAL = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
LETTER = "ABCDEFGHJKLMNPQRSTUVWXYZ"


@pytest.mark.parametrize(
    ("raw", "plate", "kind"),
    [
        ("京A12345", "京A12345", "ordinary"),
        ("京a·12345", "京A12345", "ordinary"),
        ("京Ａ１２３４５", "京A12345", "ordinary"),  # full-width input
        ("京 N8P9Q2", "京N8P9Q2", "ordinary"),
        ("京AD12345", "京AD12345", "new_energy_small"),
        ("京AFA1234", "京AFA1234", "new_energy_small"),
        ("粤Z1234港", "粤Z1234港", "special"),
        ("京A12345D", "京A12345D", "new_energy_large"),
        ("京A1234学", "京A1234学", "special"),
        ("冀B-1234挂", "冀B1234挂", "special"),
    ],
)
def test_valid_plates_are_normalised(raw, plate, kind):
    assert validate_plate(raw) == plate
    assert plate_kind(plate) == kind


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "不能为空"),
        ("AB12345", "省份简称"),
        ("京A1234", "7 位"),
        ("京A123456789", "7 位"),
        ("京AI2345", "I 和 O"),
        ("京1A2345", "格式"),
        ("京A12345X", "格式"),  # 8 characters but neither new-energy form
        ("京AD1234学", "格式"),
        ("京ADA123B", "格式"),  # small new-energy: the last four are digits
    ],
)
def test_invalid_plates_say_why(raw, why):
    with pytest.raises(PlateError, match=why):
        validate_plate(raw)


plates = st.builds(
    lambda p, letter, serial: p + letter + serial,
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTER),
    st.text(alphabet=SERIAL, min_size=5, max_size=5),
)
nev_plates = st.builds(
    lambda p, letter, energy, first, digits: p + letter + energy + first + digits,
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTER),
    st.sampled_from("DF"),
    st.sampled_from(SERIAL),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
)


def test_seven_characters_starting_with_d_are_an_ordinary_plate():
    # 京A + D1234: a legal ordinary serial, not a short new-energy plate.
    assert plate_kind(validate_plate("京AD1234")) == "ordinary"


@given(st.one_of(plates, nev_plates))
def test_generated_plates_validate_and_normalise_idempotently(plate):
    assert validate_plate(plate) == plate
    assert normalise_plate(" " + plate.lower() + " ") == plate
    masked = mask_plate(plate)
    assert plate[2:-2] not in masked.replace("·", "") or len(plate[2:-2]) == 0


@given(st.text(max_size=12))
def test_validation_is_total(text):
    try:
        plate = validate_plate(text)
    except PlateError as exc:
        assert str(exc)
    else:
        assert plate_kind(plate) is not None
