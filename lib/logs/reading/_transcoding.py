"""Logs written in UTF-16 or UTF-32 (Windows tools, PowerShell's ``>``), told by their first
bytes and read as UTF-8, so every later stage sees the text it always sees.

``encoding_of`` names the encoding of a file's (or a compressed file's) first bytes:

- a byte-order mark: UTF-32 LE or BE (``FF FE 00 00``, ``00 00 FE FF``), UTF-16 LE or BE
  (``FF FE``, ``FE FF``);
- without one, UTF-16 LE or BE when the bytes read as text in it and not as anything else: no
  NUL character, no control character but tab, carriage return and newline, nine in ten of the
  characters ASCII (a log's are, nearly all; the other byte order would give CJK characters).
  Binary data with NUL bytes fails that test and stays binary.

A UTF-8 byte-order mark is not an encoding here: the text is UTF-8 already, and the block reader
drops the mark as before.

``open_transcoded`` reads such a stream as UTF-8 a step at a time (memory bounded by the step,
whatever the file's size), its byte-order mark dropped. What does not decode (an unpaired
surrogate, a file cut in the middle of a character) becomes U+FFFD, as undecodable UTF-8 does.
"""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO

ENCODINGS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")  # what a log may be written in
STEP_BYTES = 256 * 1024  # encoded bytes decoded at a time
_BOMS = (  # longest first: UTF-32 LE's mark starts as UTF-16 LE's does
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_TEXT_CONTROLS = frozenset("\t\r\n")
_ASCII_SHARE = 0.9  # of a head without a byte-order mark, read as UTF-16


def encoding_of(head: bytes) -> str | None:
    """The encoding of text whose first bytes are ``head`` (see the module's doc), or None for
    UTF-8 (or anything that is not UTF-16 or UTF-32 text)."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    if b"\x00" not in head:  # UTF-16 ASCII text is half NUL bytes
        return None
    for encoding in ("utf-16-le", "utf-16-be"):
        if _reads_as_text(head, encoding):
            return encoding
    return None


def _reads_as_text(head: bytes, encoding: str) -> bool:
    """Whether ``head`` (without a byte-order mark) is mostly ASCII text in ``encoding``."""
    text = head[: len(head) // 2 * 2].decode(encoding, "replace").rstrip("\ufffd")
    if not text:
        return False
    ascii_chars = 0
    for char in text:
        if char < " " and char not in _TEXT_CONTROLS:
            return False  # a NUL or another control character: not text
        ascii_chars += char < "\x80"
    return ascii_chars >= _ASCII_SHARE * len(text)


class _Transcoded(io.RawIOBase):
    """The text of ``raw`` (encoded in ``encoding``) as UTF-8, its byte-order mark dropped."""

    def __init__(self, raw: BinaryIO, encoding: str) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")
        self._out = b""  # UTF-8 decoded and not yet read
        self._at = 0
        self._position = 0
        self._started = False
        self._ended = False

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer) -> int:  # type: ignore[override]
        """Fill ``buffer`` with the next UTF-8 (less at the end)."""
        while self._at >= len(self._out) and not self._ended:
            data = self._raw.read(STEP_BYTES)
            self._ended = not data
            text = self._decoder.decode(data, final=self._ended)
            if not self._started and text:
                text, self._started = text.removeprefix("\ufeff"), True
            self._out, self._at = text.encode("utf-8", "replace"), 0
        piece = memoryview(self._out)[self._at : self._at + len(buffer)]
        buffer[: len(piece)] = piece
        self._at += len(piece)
        self._position += len(piece)
        return len(piece)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class TranscodedReader(io.BufferedReader):
    """A UTF-16 or UTF-32 log's text as UTF-8, buffered (``read``, ``peek``, ``readline``,
    ``tell``; no ``seek``). Errors reading the stream below pass through."""


def open_transcoded(raw: BinaryIO, encoding: str) -> TranscodedReader:
    """Read ``raw`` (text in ``encoding``, one of ``ENCODINGS``, at its start) as UTF-8;
    closing the reader closes ``raw``. Raises LookupError for an unknown encoding."""
    return TranscodedReader(_Transcoded(raw, encoding))
