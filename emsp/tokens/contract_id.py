"""Contract IDs (eMA-ID) as eMI3 "Part 2: business objects" and ISO 15118-1 define them.

Format: `CC-PPP-CXXXXXXXX-D`

- `CC`: ISO 3166-1 alpha-2 country code of the provider;
- `PPP`: provider (eMSP) id, 3 alphanumerics;
- `C` + 8 alphanumerics: the ID type (C = contract) and the eMA instance;
- `D`: the check digit.

Read case-insensitively with or without the dashes; stored normalised: upper case, with dashes.

The check digit ("Check Digit Calculation for Contract-IDs", the eMI3/ISO 15118 algorithm) works on the 14
characters before it. Each character of `0-9A-Z` stands for its value a in 0..35, written `a = 9q + r` with
`q = 2 q1 + q2` and `r = 3 r1 + r2`: a pair `(q1, q2)` over Z2 and a pair `(r1, r2)` over Z3. For positions
i = 1..15 the check digit makes both sums vanish:

    sum_i (q1, q2)_i · P1^i = 0 (mod 2),   P1 = [[0, 1], [1, 1]]   (P1^3 = I)
    sum_i (r1, r2)_i · P2^i = 0 (mod 3),   P2 = [[0, 1], [1, 2]]   (P2^8 = I)

which detects single errors, adjacent and jump transpositions, and twin and jump-twin errors.
"""

from __future__ import annotations

import re
import secrets
import string

import pycountry

ALPHABET = string.digits + string.ascii_uppercase
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_BODY_LENGTH = 14
_EMAID = re.compile(r"([A-Z]{2})([A-Z0-9]{3})(C[A-Z0-9]{8})([A-Z0-9])?")

Matrix = tuple[tuple[int, int], tuple[int, int]]
_P1: Matrix = ((0, 1), (1, 1))
_P2: Matrix = ((0, 1), (1, 2))


class InvalidContractId(ValueError):
    """The text is not an eMA-ID, or its check digit is wrong."""


def _mul(a: Matrix, b: Matrix, mod: int) -> Matrix:
    return (
        ((a[0][0] * b[0][0] + a[0][1] * b[1][0]) % mod, (a[0][0] * b[0][1] + a[0][1] * b[1][1]) % mod),
        ((a[1][0] * b[0][0] + a[1][1] * b[1][0]) % mod, (a[1][0] * b[0][1] + a[1][1] * b[1][1]) % mod),
    )


def _powers(p: Matrix, mod: int, count: int) -> list[Matrix]:
    """[p^1, p^2, ..., p^count] modulo `mod`."""
    result = [p]
    while len(result) < count:
        result.append(_mul(result[-1], p, mod))
    return result


_P1_POWERS = _powers(_P1, 2, _BODY_LENGTH + 1)
_P2_POWERS = _powers(_P2, 3, _BODY_LENGTH + 1)


def _vec_mat(v: tuple[int, int], m: Matrix, mod: int) -> tuple[int, int]:
    return ((v[0] * m[0][0] + v[1] * m[1][0]) % mod, (v[0] * m[0][1] + v[1] * m[1][1]) % mod)


def _split(ch: str) -> tuple[tuple[int, int], tuple[int, int]]:
    q, r = divmod(_VALUE[ch], 9)
    return divmod(q, 2), divmod(r, 3)


def check_digit(body: str) -> str:
    """The check digit of the 14 characters of an eMA-ID before it (dashes ignored, any case)."""
    text = body.replace("-", "").upper()
    if len(text) != _BODY_LENGTH or any(ch not in _VALUE for ch in text):
        raise InvalidContractId(f"need 14 characters of 0-9/A-Z before the check digit, got {body!r}")
    q_sum, r_sum = (0, 0), (0, 0)
    for i, ch in enumerate(text):
        q, r = _split(ch)
        qp, rp = _vec_mat(q, _P1_POWERS[i], 2), _vec_mat(r, _P2_POWERS[i], 3)
        q_sum = ((q_sum[0] + qp[0]) % 2, (q_sum[1] + qp[1]) % 2)
        r_sum = ((r_sum[0] + rp[0]) % 3, (r_sum[1] + rp[1]) % 3)
    # Position 15: P1^15 = I, P2^15 = P2^7 = P2^-1, so the check pair is -sum · P1^0 and -sum · P2.
    q15 = ((-q_sum[0]) % 2, (-q_sum[1]) % 2)
    r15 = _vec_mat(((-r_sum[0]) % 3, (-r_sum[1]) % 3), _P2, 3)
    return ALPHABET[9 * (2 * q15[0] + q15[1]) + 3 * r15[0] + r15[1]]


def format_contract_id(country_code: str, provider_id: str, instance: str, digit: str) -> str:
    return f"{country_code}-{provider_id}-{instance}-{digit}"


def normalise_contract_id(value: str) -> str:
    """The eMA-ID `value` as `CC-PPP-CXXXXXXXX-D` (upper case, dashes), after checking format, country
    and check digit. Raises `InvalidContractId` with a message fit for an operator."""
    text = value.strip().upper()
    compact = text.replace("-", "")
    match = _EMAID.fullmatch(compact)
    if match is None or (text != compact and not _dashes_in_place(text)):
        raise InvalidContractId(
            f"contract_id {value!r} is not an eMA-ID of the form CC-PPP-CXXXXXXXX-D "
            "(country code, 3-character provider id, 'C' and 8 letters or digits, check digit)"
        )
    country, provider, instance, digit = match.groups()
    if pycountry.countries.get(alpha_2=country) is None:
        raise InvalidContractId(f"contract_id {value!r}: {country!r} is not an ISO 3166-1 country code")
    expected = check_digit(country + provider + instance)
    if digit is None:
        suggestion = format_contract_id(country, provider, instance, expected)
        raise InvalidContractId(f"contract_id {value!r} has no check digit (with it: {suggestion})")
    if digit != expected:
        raise InvalidContractId(f"contract_id {value!r}: wrong check digit {digit!r}")
    return format_contract_id(country, provider, instance, digit)


def _dashes_in_place(text: str) -> bool:
    """Dashes only where the format puts them: after CC, after PPP, before the check digit."""
    parts = text.split("-")
    lengths = [len(p) for p in parts]
    return lengths in ([2, 3, 9, 1], [2, 3, 10], [2, 3, 9])


def new_contract_id(country_code: str, provider_id: str) -> str:
    """A random eMA-ID for the provider `country_code`/`provider_id` (uniqueness is the caller's check)."""
    country, provider = country_code.upper(), provider_id.upper()
    if not re.fullmatch(r"[A-Z]{2}", country) or not re.fullmatch(r"[A-Z0-9]{3}", provider):
        raise InvalidContractId(f"cannot make an eMA-ID for party {country_code}-{provider_id}")
    instance = "C" + "".join(secrets.choice(ALPHABET) for _ in range(8))
    return format_contract_id(country, provider, instance, check_digit(country + provider + instance))
