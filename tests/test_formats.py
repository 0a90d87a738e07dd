"""The formats compiled exactly agree with the libraries that define them, in both directions: ``ipaddress``
(jsonschema's ipv4/ipv6 check) and ``rfc3986-validator`` (RFC 3986's grammar), on random strings over the
characters that matter, and on every form of random valid addresses."""

import ipaddress
import random
import re

import pytest
from ctrlgen.guidance.formats import IPV4, IPV6, URI, URI_REFERENCE


def _ipv6(text: str) -> bool:
    try:
        return not ipaddress.IPv6Address(text).scope_id
    except ValueError:
        return False


def _ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
        return True
    except ValueError:
        return False


def test_ip_formats_accept_exactly_what_ipaddress_reads():
    rng = random.Random(0)
    v4, v6 = re.compile(IPV4), re.compile(IPV6)
    for _ in range(30_000):
        text = "".join(rng.choice("0123456789abcdefA:::..") for _ in range(rng.randrange(1, 40)))
        assert bool(v6.fullmatch(text)) == _ipv6(text), text
        text = "".join(rng.choice("0123456789.") for _ in range(rng.randrange(1, 16)))
        assert bool(v4.fullmatch(text)) == _ipv4(text), text
    for _ in range(3_000):
        bits = rng.getrandbits(128) if rng.random() < 0.5 else rng.getrandbits(16) << (16 * rng.randrange(8))
        address = ipaddress.IPv6Address(bits)
        for text in (str(address), address.exploded, address.exploded.replace("0000", "0")):
            assert v6.fullmatch(text), text
        assert v4.fullmatch(str(ipaddress.IPv4Address(rng.getrandbits(32))))


@pytest.mark.parametrize(("pattern", "rule"), [(URI, "URI"), (URI_REFERENCE, "URI_reference")])
def test_uri_formats_are_rfc3986(pattern, rule):
    from rfc3986_validator import validate_rfc3986

    rng = random.Random(0)
    compiled = re.compile(pattern)
    alphabet = "ab:/?#[]@!$&'()*+,;=%0F.-_~1v"
    for _ in range(30_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 14)))
        assert bool(compiled.fullmatch(text)) == bool(validate_rfc3986(text, rule=rule)), text
    for text in ("https://user@example.com:8080/a/b?q=1#f", "urn:isbn:0451450523", "http://[::1]/", "mailto:x@y.z"):
        assert compiled.fullmatch(text) and validate_rfc3986(text, rule=rule)
