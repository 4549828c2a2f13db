"""eMA-ID contract ids: format, normalisation, and the eMI3/ISO 15118 check digit.

Known-valid ids come from public documents: the eMI3 "Check Digit Calculation for Contract-IDs" example
(DE83DUIEN83QGZ → D), eMI3 "Part 2: business objects" 1.2.2.1 (DE-8AA-CA2B3C4D5-L), Gireve's example
(FR-XYZ-123456789-2) and the OCPI 2.2.1 CDR example (NL-TST-C12345678-S).
"""

from __future__ import annotations

import pytest

from emsp.tokens.contract_id import (
    ALPHABET,
    InvalidContractId,
    check_digit,
    new_contract_id,
    normalise_contract_id,
)

PUBLISHED = [
    ("DE83DUIEN83QGZ", "D"),  # eMI3 check digit paper
    ("DE83DUIEN83ZGQ", "M"),  # same paper, QG/ZQ transposed: another digit
    ("DE8AACA2B3C4D5", "L"),  # eMI3 Part 2
    ("FRXYZ123456789", "2"),  # Gireve (DIN SPEC 91286 form, same algorithm)
    ("NLTSTC12345678", "S"),  # OCPI 2.2.1 cdr_example.json
]


@pytest.mark.parametrize(("body", "digit"), PUBLISHED)
def test_check_digit_of_published_ids(body: str, digit: str) -> None:
    assert check_digit(body) == digit
    assert check_digit(body.lower()) == digit


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("DE-8AA-CA2B3C4D5-L", "DE-8AA-CA2B3C4D5-L"),
        ("de-8aa-ca2b3c4d5-l", "DE-8AA-CA2B3C4D5-L"),
        ("DE8AACA2B3C4D5L", "DE-8AA-CA2B3C4D5-L"),
        (" NL-TST-C12345678-S ", "NL-TST-C12345678-S"),
        ("NLTSTC12345678S", "NL-TST-C12345678-S"),
    ],
)
def test_valid_ids_are_normalised(given: str, stored: str) -> None:
    assert normalise_contract_id(given) == stored


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("DE-8AA-CA2B3C4D5-X", "wrong check digit"),
        ("DE-8AA-CA2B3C4D5-M", "wrong check digit"),
        ("DE8ACC12E46L89", "no check digit (with it: DE-8AC-C12E46L89-"),  # OCPI token example: no digit
        ("XX-8AA-CA2B3C4D5-L", "not an ISO 3166-1 country code"),
        ("DE-8AA-XA2B3C4D5-L", "not an eMA-ID"),  # ID type must be C
        ("DE-8AA-CA2B3C4D-L", "not an eMA-ID"),  # instance too short
        ("DE-8A-ACA2B3C4D5-L", "not an eMA-ID"),  # dashes out of place
        ("DE-8AA-CA2B3C4D5-LL", "not an eMA-ID"),
        ("DE-8A!-CA2B3C4D5-L", "not an eMA-ID"),
        ("", "not an eMA-ID"),
        ("FA54320", "not an eMA-ID"),
    ],
)
def test_invalid_ids_are_refused(given: str, message: str) -> None:
    with pytest.raises(InvalidContractId, match=message.replace("(", r"\(")):
        normalise_contract_id(given)


def test_every_single_character_error_is_detected() -> None:
    body, digit = "DE8AACA2B3C4D5", "L"
    full = body + digit
    for position in range(len(full)):
        for ch in ALPHABET:
            if ch == full[position]:
                continue
            changed = full[:position] + ch + full[position + 1 :]
            assert check_digit(changed[:14]) != changed[14], changed


def test_adjacent_transpositions_are_detected() -> None:
    full = "NLTSTC12345678S"
    for i in range(len(full) - 1):
        if full[i] == full[i + 1]:
            continue
        swapped = full[:i] + full[i + 1] + full[i] + full[i + 2 :]
        assert check_digit(swapped[:14]) != swapped[14], swapped


def test_generated_ids_are_valid_and_different() -> None:
    ids = {new_contract_id("nl", "ems") for _ in range(200)}
    assert len(ids) == 200
    for value in ids:
        assert value.startswith("NL-EMS-C")
        assert normalise_contract_id(value) == value


def test_cannot_generate_for_a_party_that_is_not_alphanumeric() -> None:
    with pytest.raises(InvalidContractId):
        new_contract_id("NL", "E-S")


def test_check_digit_needs_14_characters() -> None:
    with pytest.raises(InvalidContractId):
        check_digit("DE8AA")
