"""Regexes for the JSON Schema string ``format`` values ctrlgen compiles, as JSON string *content*.

Where ``jsonschema``'s format checker checks a format (``date``, ``uuid``, ``email``), every string the regex
allows passes it: ``date`` is exact (ASCII digits, the days of each month, 29 February in leap years only,
years 0001-9999, as ``datetime.date.fromisoformat`` reads them), ``uuid`` is exact in its 8-4-4-4-12 hexadecimal
form (either case); ``email`` is a dot-atom address at a domain name (``jsonschema`` only asks for an ``@``).
``time`` and ``date-time`` are RFC 3339's ``full-time`` and ``date-time`` (outlines-core's ``time`` regex
writes a backslash into the string: invalid JSON). ``ipv4`` and ``ipv6`` are exactly what ``ipaddress`` reads
(jsonschema's check; no zone index); ``uri`` and ``uri-reference`` are RFC 3986's grammar rule for rule (checked
against ``rfc3986-validator``). Any other format goes to outlines-core's regex, with ``\\d`` read as ``[0-9]``
(Rust's is every Unicode digit) and its negated classes kept from the characters JSON escapes.
"""

from __future__ import annotations

import json
from functools import cache

from .regex_classes import ecma_shorthands

__all__ = ["format_regex", "DATE", "UUID"]

_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"  # 0001-9999
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][48]|[13579][26]|[2468]0)00)"
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
#: ``YYYY-MM-DD``, a real calendar date.
DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_HEX = "[0-9a-fA-F]"
#: ``8-4-4-4-12`` hexadecimal digits.
UUID = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"

_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
#: ``local@domain``: a dot-atom local part (RFC 5322, no quoted form: its quotes would end the JSON string) and
#: a dotted domain name.
EMAIL = f"{_ATOM}(?:\\.{_ATOM})*@(?:{_LABEL}\\.)+{_LABEL}"

#: RFC 3339 ``full-time``: ``hh:mm:ss``, a leap second allowed, optional fraction, an offset (``Z`` or ``+hh:mm``).
TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
#: RFC 3339 ``date-time``: a real date, ``T``, a full time.
DATE_TIME = f"{DATE}[Tt]{TIME}"

_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
#: dotted quad, no leading zeros (as ``ipaddress.IPv4Address`` reads it, and jsonschema with it)
IPV4 = f"{_OCTET}(?:\\.{_OCTET}){{3}}"
_H16 = "[0-9A-Fa-f]{1,4}"
_LS32 = f"(?:{_H16}:{_H16}|{IPV4})"
#: RFC 4291 section 2.2 text forms (``::`` for one or more zero groups, a dotted quad as the last 32 bits), no
#: zone index (jsonschema refuses one)
IPV6 = "|".join(
    [
        f"(?:{_H16}:){{6}}{_LS32}",
        f"::(?:{_H16}:){{5}}{_LS32}",
        f"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
        f"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
        f"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
        f"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
        f"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
        f"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
        f"(?:(?:{_H16}:){{0,6}}{_H16})?::",
    ]
)
IPV6 = f"(?:{IPV6})"
# RFC 3986 appendix A, every rule spelled out (ASCII only: nothing JSON escapes)
_UNRESERVED = "A-Za-z0-9._~\\-"
_SUB_DELIMS = "!$&'()*+,;="
_PCT = "%[0-9A-Fa-f]{2}"
_PCHAR = f"(?:[{_UNRESERVED}{_SUB_DELIMS}:@]|{_PCT})"
_SEGMENT = f"{_PCHAR}*"
_SEGMENT_NZ = f"{_PCHAR}+"
_SEGMENT_NZ_NC = f"(?:[{_UNRESERVED}{_SUB_DELIMS}@]|{_PCT})+"
_IP_LITERAL = f"\\[(?:{IPV6}|[vV][0-9A-Fa-f]+\\.[{_UNRESERVED}{_SUB_DELIMS}:]+)\\]"
_REG_NAME = f"(?:[{_UNRESERVED}{_SUB_DELIMS}]|{_PCT})*"
_USERINFO = f"(?:[{_UNRESERVED}{_SUB_DELIMS}:]|{_PCT})*"
_AUTHORITY = f"(?:{_USERINFO}@)?(?:{_IP_LITERAL}|{IPV4}|{_REG_NAME})(?::[0-9]*)?"
_PATH_ABEMPTY = f"(?:/{_SEGMENT})*"
_PATH_ABSOLUTE = f"/(?:{_SEGMENT_NZ}(?:/{_SEGMENT})*)?"
_QUERY = f"(?:{_PCHAR}|[/?])*"
_TAIL = f"(?:\\?{_QUERY})?(?:#{_QUERY})?"  # query, fragment (the same characters)
#: RFC 3986 ``URI``: a scheme, then the hierarchical part, query and fragment
URI = (
    f"[A-Za-z][A-Za-z0-9+.\\-]*:(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}|{_SEGMENT_NZ}(?:/{_SEGMENT})*|)"
    f"{_TAIL}"
)
#: RFC 3986 ``URI-reference``: a URI or a relative reference
URI_REFERENCE = f"(?:{URI}|(?://{_AUTHORITY}{_PATH_ABEMPTY}|{_PATH_ABSOLUTE}|{_SEGMENT_NZ_NC}(?:/{_SEGMENT})*|){_TAIL})"

_OURS = {
    "date": DATE, "uuid": UUID, "email": EMAIL, "time": TIME, "date-time": DATE_TIME, "ipv4": IPV4, "ipv6": IPV6,
    "uri": URI, "uri-reference": URI_REFERENCE,
}  # fmt: skip
#: what JSON writes escaped, kept out of the negated classes of outlines-core's format regexes
_JSON_UNSAFE = '"\\\\\\x00-\\x1F\\x7F-\\x9F'


@cache
def format_regex(name: str) -> str:
    """The regex of a JSON string (quotes included) whose content has format ``name``."""
    if name in _OURS:
        return f'"{ecma_shorthands(_OURS[name])}"'
    from outlines_core.json_schema import build_regex_from_schema

    regex = build_regex_from_schema(json.dumps({"type": "string", "format": name}))
    # a negated class (the uri's [^\\s:@]) would let a quote, a backslash or a control character into the string
    return ecma_shorthands(regex.replace("[^", "[^" + _JSON_UNSAFE))
