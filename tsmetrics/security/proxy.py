"""Trusted reverse proxies: the real client address, the scheme, and single-sign-on users.

Anyone can send X-Forwarded-* or X-Forwarded-User headers, so they are read
only from a connection whose peer address is in TSMETRICS_TRUSTED_PROXIES;
from anywhere else they are ignored.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app, request

from tsmetrics.settings import SettingError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_NAME = 200


@dataclass(frozen=True)
class ProxyUser:
    """A user named by the SSO proxy; `role` is None when their groups give no access."""

    name: str
    role: str | None


def parse_networks(text: str) -> tuple[Network, ...]:
    """The networks of a comma-separated list of addresses and CIDRs."""
    networks = []
    for item in split_list(text):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise SettingError(
                f"TSMETRICS_TRUSTED_PROXIES: {item!r} is not an address or CIDR "
                "(e.g. 10.0.0.5, 172.18.0.0/16)."
            ) from None
    return tuple(networks)


def split_list(text: str | None) -> list[str]:
    """The non-empty items of a comma-separated setting or header."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


@lru_cache(maxsize=4096)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def is_trusted(address: str | None) -> bool:
    """True when `address` belongs to a configured reverse proxy."""
    networks: tuple[Network, ...] = current_app.extensions.get("tsmetrics.trusted_proxies", ())
    parsed = _address(address) if address and networks else None
    return parsed is not None and any(parsed in network for network in networks)


def from_trusted_proxy() -> bool:
    """True when the current request's peer is a trusted reverse proxy."""
    return is_trusted(request.remote_addr)


def client_address() -> str:
    """The client's address: the peer, or behind trusted proxies the first untrusted hop."""
    peer = request.remote_addr or "unknown"
    if not is_trusted(peer):
        return peer
    hops = split_list(",".join(request.headers.getlist("X-Forwarded-For")))
    # Proxies append; walking from the right, the first hop that is not one of
    # ours is the client as our own proxy saw it (anything left of it is hearsay).
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop[:64] if _address(hop) else peer
    return peer


def is_https() -> bool:
    """True when the client connected over HTTPS, to us or to a trusted proxy."""
    if request.is_secure:
        return True
    if not from_trusted_proxy():
        return False
    forwarded = split_list(request.headers.get("X-Forwarded-Proto"))
    return bool(forwarded) and forwarded[0].lower() == "https"


def proxy_user() -> ProxyUser | None:
    """The SSO user a trusted proxy vouches for, or None."""
    if not from_trusted_proxy():
        return None
    settings = current_app.config["TSMETRICS"]
    name = (request.headers.get(settings["PROXY_USER_HEADER"]) or "").strip()
    if not name:
        return None
    groups = set(split_list(request.headers.get(settings["PROXY_GROUPS_HEADER"])))
    viewer_groups = set(split_list(settings["PROXY_VIEWER_GROUPS"]))
    if groups & set(split_list(settings["PROXY_EDITOR_GROUPS"])):
        role: str | None = "editor"
    elif not viewer_groups or groups & viewer_groups:
        role = "viewer"
    else:
        role = None
    return ProxyUser(name[:MAX_NAME], role)
