"""The SSRF guard on URLs a partner gives us (research notes, scenario 33). Literal addresses and
`localhost` only: no test depends on outside DNS."""

from __future__ import annotations

import pytest

from partners.errors import UrlRefused
from partners.urlguard import UrlPolicy, check_url, is_public_address

STRICT = UrlPolicy(allow_http=False, allow_private=False)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::",
    ],
)
def test_private_and_reserved_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://8.8.8.8/versions", "scheme"),
        ("ftp://8.8.8.8/versions", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("//8.8.8.8/versions", "scheme"),
        ("https:///versions", "no host"),
        ("https://user:pw@8.8.8.8/versions", "user info"),
        ("https://127.0.0.1/versions", "private"),
        ("https://[::1]:8443/versions", "private"),
        ("https://169.254.169.254/latest", "private"),
        ("https://localhost/versions", "private"),
        ("https://no-such-host.invalid/versions", "resolve"),
        ("https://[not-an-ip/versions", "valid"),
    ],
)
async def test_refused_urls(url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        await check_url(url, STRICT)
    assert why in refused.value.status_message
    assert refused.value.status_code == 3001


async def test_public_https_literal_is_allowed() -> None:
    await check_url("https://8.8.8.8/ocpi/versions", STRICT)


async def test_policy_can_allow_http_and_private_targets() -> None:
    await check_url("http://127.0.0.1:8000/ocpi/versions", UrlPolicy(allow_http=True, allow_private=True))
    with pytest.raises(UrlRefused):
        await check_url(
            "http://127.0.0.1:8000/ocpi/versions", UrlPolicy(allow_http=True, allow_private=False)
        )
    with pytest.raises(UrlRefused):
        await check_url("ftp://127.0.0.1/", UrlPolicy(allow_http=True, allow_private=True))
