"""Logged text with the servers' escapes decoded, so the same value is one value whichever
server wrote it.

Inside a logged field both servers escape what would break the line, each its own way:

- nginx (``escape=default``): a quote, a backslash, control bytes and bytes from 0x7F up as
  ``\\xHH`` (``\\x22``, ``\\x5C``);
- Apache (``ap_escape_logitem``): ``\\"`` and ``\\\\``, ``\\b`` ``\\n`` ``\\r`` ``\\t`` ``\\v``,
  and other control and non-ASCII bytes as ``\\xhh``.

Neither server writes a backslash that starts no escape (nginx escapes its own backslashes too),
so one decoding reads both: each escape becomes its byte, and a backslash that starts none
stays. The bytes are then read as UTF-8, what is not valid UTF-8 as U+FFFD (as in a line).
Imports nothing heavy: ``lib.logs.parsing.fields`` applies it to polars columns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

_ESCAPE = re.compile(rb"\\(?:x([0-9A-Fa-f]{2})|([\"\\bnrtv]))")
_BYTES = {
    b'"': b'"',
    b"\\": b"\\",
    b"b": b"\b",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
}


def _byte(match: re.Match[bytes]) -> bytes:
    code, letter = match.groups()
    return bytes.fromhex(code.decode()) if code is not None else _BYTES[letter]


def unescape(text: str) -> str:
    """``text`` (a logged field, read as UTF-8) with nginx's and Apache's escapes decoded
    (see the module's doc); undecodable bytes become U+FFFD."""
    if "\\" not in text:
        return text
    raw = text.encode("utf-8", "surrogatepass")
    return _ESCAPE.sub(_byte, raw).decode("utf-8", "replace")


def unquote_percent(text: str) -> str:
    """``text`` with CloudFront's URL encoding (``%20``, ``%22``) decoded; what is not valid
    UTF-8 as U+FFFD."""
    return unquote(text, errors="replace")


# How a format's quoted values are escaped -> (the text that starts an escape, the decoder).
DECODERS: dict[str, tuple[str, Callable[[str], str]]] = {
    "backslash": ("\\", unescape),  # Apache and nginx
    "percent": ("%", unquote_percent),  # CloudFront
}
