"""Credentials tokens in the `Authorization` header (spec transport_and_format.asciidoc 4.1.2).

OCPI 2.2.1 sends `Authorization: Token <base64(utf-8 token)>`. Many 2.1.1 and 2.2 peers send the token raw,
and both spec examples base64-encode a trailing newline, so the reader is tolerant: it yields every
plausible reading of the header value and the caller looks them up in turn.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import string

TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_"
MAX_TOKEN_LENGTH = 64


def encode_token(token: str, *, base64_encode: bool = True) -> str:
    """The `Authorization` header value for `token`; raw when the peer predates 2.2-d2."""
    if not base64_encode:
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def candidate_tokens(header_value: str | None) -> list[str]:
    """Plausible tokens carried by an `Authorization` header, most likely first.

    Returns [] when the header is missing or not of the `Token` scheme.
    """
    if not header_value:
        return []
    scheme, _, value = header_value.strip().partition(" ")
    if scheme.lower() != "token":
        return []
    value = value.strip()
    if not value or len(value) > 4 * MAX_TOKEN_LENGTH:
        return []
    candidates: list[str] = []
    decoded = _b64decode(value)
    if decoded is not None:
        candidates.append(decoded)
        stripped = decoded.strip()
        if stripped and stripped != decoded:
            candidates.append(stripped)
    if value not in candidates:
        candidates.append(value)
    return candidates


def _b64decode(value: str) -> str | None:
    try:
        raw = base64.b64decode(value, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text or not all(ch.isprintable() or ch in "\r\n" for ch in text):
        return None
    return text


def is_valid_token(token: str) -> bool:
    """Spec credentials.asciidoc: string(64), printable non-whitespace ASCII (U+0021 to U+007E)."""
    return 0 < len(token) <= MAX_TOKEN_LENGTH and all("\x21" <= ch <= "\x7e" for ch in token)


def new_token(length: int = 48) -> str:
    """A fresh random credentials token."""
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(length))
