"""URLs a partner gives us are fetched with care (an SSRF guard, research notes 3e and scenario 33).

- Only `https` (and `http` when the policy allows it); no user info in the URL.
- The host must resolve, and every address it resolves to must be a public one: loopback, private,
  link-local (169.254.0.0/16, cloud metadata), shared, reserved, multicast and unspecified addresses are
  refused unless the policy allows private targets (local runs and tests).
- Redirects are never followed: the shared HTTP client has `follow_redirects=False` and `ocpi.client`
  sends with `follow_redirects=False`, so a 3xx is a failed call, not a hop to a place we did not check.

The check resolves the name once; the HTTP client resolves it again when it connects (a DNS rebinding
window remains; closing it needs a transport that connects to the checked address).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from partners.errors import UrlRefused

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class UrlPolicy:
    allow_http: bool = False
    allow_private: bool = False


def is_public_address(text: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged by its IPv4 address)."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


async def check_url(url: str, policy: UrlPolicy) -> None:
    """Raise `UrlRefused` unless `url` is one we may call under `policy`."""
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError as exc:
        raise UrlRefused(f"URL refused: not a valid URL ({exc})") from None
    allowed = {"https", "http"} if policy.allow_http else {"https"}
    if scheme not in allowed:
        raise UrlRefused(
            f"URL refused: scheme {scheme or '(none)'!r} not allowed (use {' or '.join(sorted(allowed))})"
        )
    if not host:
        raise UrlRefused("URL refused: no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("URL refused: user info in the URL")
    if policy.allow_private:
        return
    for address in await _resolve(host, port or _DEFAULT_PORTS[scheme]):
        if not is_public_address(address):
            raise UrlRefused(f"URL refused: {host} is a private, loopback or reserved address ({address})")


async def _resolve(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UrlRefused(f"URL refused: cannot resolve {host} ({exc})") from None
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses:
        raise UrlRefused(f"URL refused: {host} resolves to no address")
    return addresses
