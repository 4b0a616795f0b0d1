"""Which addresses the bot may fetch from: protection against server-side request forgery.

A site (or a page an admin adds with `mirror add`) could point the bot, directly, through DNS or
through a redirect, at the machine it runs on, the private network around it or a cloud metadata
service. Every request a source makes goes through `guarded_session`: an aiohttp middleware
checks the scheme and literal addresses of each request in a redirect chain, and a resolver checks
every address a name resolves to at connect time (so a name that changes its answer after a check,
DNS rebinding, is caught too).

What is allowed anyway: hosts and networks listed in the config's `network.allow_private`, and
the hosts of sites configured by address (`url: http://127.0.0.1:8080/`), which an operator wrote
on purpose.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.sources.base import SourceError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Metadata services that are not already loopback, private or link-local (169.254.169.254 is).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("100.100.100.200", "fd00:ec2::254", "192.0.0.192")
)
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, often internal


class BlockedAddress(aiohttp.ClientConnectionError):
    """A request refused because it would reach an internal address (or use another scheme)."""


def why_internal(address: IpAddress) -> str | None:
    """What kind of internal address this is, or None for an ordinary public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address (cloud metadata lives there)"),
        (address.is_private, "a private address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address in SHARED_ADDRESS_SPACE, "a shared (carrier-grade NAT) address"),
    )
    return next((reason for hit, reason in checks if hit), None)


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class AddressPolicy:
    """Internal hosts and networks that are allowed; everything else internal is refused."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def build(cls, allow_private: Iterable[str], site_urls: Iterable[str] = ()) -> AddressPolicy:
        hosts: set[str] = set()
        networks: list[IpNetwork] = []
        for entry in allow_private:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        for url in site_urls:  # a site configured by address (or as localhost) was meant to be internal
            host = (urlsplit(url).hostname or "").lower()
            literal = _literal(host)
            if literal is not None:
                networks.append(ipaddress.ip_network(literal))
            elif host == "localhost":
                hosts.add(host)
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def refusal(self, host: str, address: IpAddress) -> str | None:
        """Why connecting to `address` (found for `host`) is refused, or None when it is fine."""
        reason = why_internal(address)
        if reason is None or self.allows_host(host) or any(address in net for net in self.networks):
            return None
        return (
            f"{host} is {reason} ({address}); the bot does not fetch internal addresses "
            f"unless the config lists them under network.allow_private"
        )

    def check_literal_url(self, url: str) -> None:
        """The checks that need no DNS: the scheme, and the host when it is an address."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise BlockedAddress(f"only http and https URLs are fetched, not {parts.scheme or 'no'} scheme: {url}")
        host = parts.hostname or ""
        if not host:
            raise BlockedAddress(f"no host in {url}")
        literal = _literal(host)
        refusal = self.refusal(host, literal) if literal is not None else None
        if refusal:
            raise BlockedAddress(refusal)

    async def check_url(self, url: str) -> None:
        """Refuse `url` if it is not http(s) or its host resolves to a refused address."""
        self.check_literal_url(url)
        host = urlsplit(url).hostname or ""
        if _literal(host) is None and not self.allows_host(host):
            resolver = aiohttp.ThreadedResolver()
            try:
                addresses = await resolver.resolve(host, 0, socket.AF_UNSPEC)
            except OSError as exc:
                raise BlockedAddress(f"cannot resolve {host}: {exc}") from exc
            finally:
                await resolver.close()
            self.check_resolved(host, addresses)

    def check_resolved(self, host: str, addresses: Sequence[ResolveResult]) -> None:
        for found in addresses:
            refusal = self.refusal(host, ipaddress.ip_address(found["host"]))
            if refusal:
                raise BlockedAddress(refusal)


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses internal answers (checked at connect
    time, after any redirect)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._inner.resolve(host, port, family)
        self.policy.check_resolved(host, addresses)
        return addresses

    async def close(self) -> None:
        await self._inner.close()


def unreachable(what: str, exc: BaseException) -> SourceError:
    """The SourceError for a failed request: a refused address needs an admin, the rest is transient."""
    if isinstance(exc, BlockedAddress):
        return SourceError(f"{what}: {exc}", transient=False)
    return SourceError(f"{what}: cannot reach the site ({exc.__class__.__name__})", transient=True)


def guarded_session(policy: AddressPolicy, **kwargs: Any) -> aiohttp.ClientSession:
    """An aiohttp session whose every request, redirects included, obeys `policy`."""

    async def check_each_request(
        request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
    ) -> aiohttp.ClientResponse:
        policy.check_literal_url(str(request.url))
        return await handler(request)

    connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy))
    return aiohttp.ClientSession(connector=connector, middlewares=(check_each_request,), **kwargs)
