"""Which addresses webhooks may go to: none of the platform's own network, by default.

A subscriber names a URL and the dispatcher POSTs to it from inside the platform's network.
Left alone, that reaches what only the platform should: Redis and PostgreSQL on loopback,
the city's internal services, a cloud's metadata service (its credentials). So an address
is refused if it is loopback, private (RFC 1918, IPv6 ULA), shared (CGNAT), link-local,
multicast, unspecified, reserved or documentation space, or a cloud metadata address — also
when written as IPv4 inside IPv6 (mapped, compatible, NAT64, 6to4) — unless the operator's
allow-list (``webhook_allow`` in config.json) names its network or the URL's host name.
Metadata addresses are refused even then: nothing the platform sends belongs there.

This module only judges addresses; ``filing/relay.py`` resolves names, checks every address
they resolve to at registration and at each delivery, and connects to the checked address.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressClass(enum.StrEnum):
    """Why an address is refused (what a subscriber may be told: the class, not the address)."""

    LOOPBACK = "loopback"
    PRIVATE = "private"
    SHARED = "shared (carrier-grade NAT)"
    LINK_LOCAL = "link-local"
    METADATA = "cloud metadata"
    MULTICAST = "multicast"
    UNSPECIFIED = "unspecified"
    RESERVED = "reserved"


# Instance metadata services: AWS, GCP, Azure, OpenStack (169.254.169.254), AWS ECS tasks
# (169.254.170.2), AWS over IPv6 (fd00:ec2::254), Alibaba Cloud (100.100.100.200), Oracle
# Cloud (192.0.0.192). Each also lies in a refused network; named so an allow-list of that
# network still leaves them out.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "fd00:ec2::254",
        "100.100.100.200",
        "192.0.0.192",
    )
)

_REFUSED: tuple[tuple[IPNetwork, AddressClass], ...] = tuple(
    (ipaddress.ip_network(net), cls)
    for net, cls in (
        ("0.0.0.0/8", AddressClass.UNSPECIFIED),  # "this network"; 0.0.0.0 reaches loopback
        ("10.0.0.0/8", AddressClass.PRIVATE),
        ("100.64.0.0/10", AddressClass.SHARED),
        ("127.0.0.0/8", AddressClass.LOOPBACK),
        ("169.254.0.0/16", AddressClass.LINK_LOCAL),
        ("172.16.0.0/12", AddressClass.PRIVATE),
        ("192.0.0.0/24", AddressClass.RESERVED),  # IETF protocol assignments
        ("192.0.2.0/24", AddressClass.RESERVED),  # documentation
        ("192.88.99.0/24", AddressClass.RESERVED),  # former 6to4 relays
        ("192.168.0.0/16", AddressClass.PRIVATE),
        ("198.18.0.0/15", AddressClass.RESERVED),  # benchmarking
        ("198.51.100.0/24", AddressClass.RESERVED),  # documentation
        ("203.0.113.0/24", AddressClass.RESERVED),  # documentation
        ("224.0.0.0/4", AddressClass.MULTICAST),
        ("240.0.0.0/4", AddressClass.RESERVED),  # and 255.255.255.255, broadcast
        ("::/128", AddressClass.UNSPECIFIED),
        ("::1/128", AddressClass.LOOPBACK),
        ("::ffff:0:0:0/96", AddressClass.RESERVED),  # IPv4-translated (SIIT)
        ("64:ff9b:1::/48", AddressClass.RESERVED),  # local-use NAT64
        ("100::/64", AddressClass.RESERVED),  # discard-only
        ("2001::/23", AddressClass.RESERVED),  # IETF protocol assignments, Teredo among them
        ("2001:db8::/32", AddressClass.RESERVED),  # documentation
        ("fc00::/7", AddressClass.PRIVATE),  # unique local (ULA)
        ("fe80::/10", AddressClass.LINK_LOCAL),
        ("fec0::/10", AddressClass.PRIVATE),  # site-local, deprecated
        ("ff00::/8", AddressClass.MULTICAST),
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE = ipaddress.ip_network("::/96")  # IPv4-compatible, deprecated: ::a.b.c.d

# A host name as URLs carry it once IDNA-encoded: letters, digits, hyphens, dots.
_LABEL = r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, compatible, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_class(address: IPAddress) -> AddressClass | None:
    """Why ``address`` is refused by default, or None if it is a public unicast address."""
    if address in METADATA:
        return AddressClass.METADATA
    for network, cls in _REFUSED:
        if address.version == network.version and address in network:
            return cls
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return address_class(inner)
    return None


def is_host_name(name: str) -> bool:
    """Is ``name`` (IDNA-encoded) a DNS host name, trailing dot allowed?"""
    return bool(_HOST.match(normalise_host(name)))


def normalise_host(host: str) -> str:
    """A host name as compared with the allow-list: lower case, no trailing dot."""
    return host.lower().rstrip(".")


class AllowListError(ValueError):
    """An entry of ``webhook_allow`` is neither a network nor a host name."""


@dataclass(frozen=True)
class Refusal:
    address: IPAddress
    cls: AddressClass


@dataclass(frozen=True)
class AddressPolicy:
    """The refused classes, less what the operator allows (networks, exact host names)."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AddressPolicy:
        """From config.json's ``webhook_allow``: ``"10.1.2.0/24"``, ``"10.1.2.3"``,
        ``"fd12::/64"`` or a host name such as ``"hooks.internal.example"``."""
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in entries:
            if not isinstance(entry, str):
                raise AllowListError(f"webhook_allow entries are strings, not {entry!r}")
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
                continue
            except ValueError:
                pass
            try:  # names as URLs carry them: IDNA-encoded (例子.测试 is xn--fsqu00a.xn--0zwm56d)
                host = normalise_host(entry.strip()).encode("idna").decode("ascii")
            except UnicodeError:
                host = ""
            if not is_host_name(host):
                raise AllowListError(
                    f"webhook_allow entry {entry!r} is neither a network nor a host name"
                )
            hosts.add(host)
        return cls(tuple(networks), frozenset(hosts))

    def refusal(self, host: str, addresses: Sequence[IPAddress]) -> Refusal | None:
        """The first of ``addresses`` (what ``host`` resolved to) that may not be used.

        Every address counts, not only the one to be used: a name answering with a public
        and a private address is refused, whichever a connection would pick.
        """
        named = normalise_host(host) in self.hosts
        for address in addresses:
            cls = address_class(address)
            if cls is None:
                continue
            if cls is AddressClass.METADATA:
                return Refusal(address, cls)
            if named or self._allowed(address):
                continue
            return Refusal(address, cls)
        return None

    def _allowed(self, address: IPAddress) -> bool:
        inner = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        candidates = (address,) if inner is None else (address, inner)
        return any(a.version == n.version and a in n for a in candidates for n in self.networks)
