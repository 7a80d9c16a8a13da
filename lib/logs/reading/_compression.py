"""What a log file is, told by its first bytes (never its name), and the text of the compressed
kinds that ``lib.logs.reading.blocks.open_log`` reads with this module: bzip2, xz and zstd (gzip
has ISA-L's reader there).

``sniff`` names one of:

- what is read: ``text`` (plain), ``gzip``, ``bzip2``, ``xz`` and ``zstd``, and text in
  UTF-16 or UTF-32 (``lib.logs.reading._transcoding.ENCODINGS``: by its byte-order mark, or
  UTF-16 that reads as text without one), read as UTF-8;
- what is refused, with a one-line reason (``not_a_log``): archives (zip, tar, 7-Zip, RAR),
  compressions this project does not read (lz4, compress's ``.Z``, lzip), ELF executables, and
  any other binary data. A file is binary when its first ``HEAD_BYTES`` hold a NUL byte and
  are not UTF-16 text, the test git and grep use: a UTF-8 log has none (a NUL that a crash
  left further in is read as a damaged line).

The same test runs again on a compressed file's first text, so a ``.tar.gz`` is refused as a
tar archive rather than read line by line (where its files' lines would mostly count, with
their headers glued to some of them), and so is a binary file gzipped.

``open_decoded`` reads every stream of a bzip2 or xz file and every frame of a zstd file, one
after the other, as ``cat`` made them; xz's stream padding is skipped. It is strict where the
standard library's readers are lenient: data after a complete stream that is not another
complete stream (a damaged second stream's header, trailing garbage) is an error, not the end of
the text, so a damaged file never gives a silently short answer. Every failure to decode is a
``CorruptStream`` (an OSError), which readers report as "damaged or truncated".
"""

from __future__ import annotations

import bz2
import io
import lzma
import re
from collections.abc import Callable
from typing import BinaryIO, Protocol

import zstandard

from lib.logs.reading._transcoding import ENCODINGS, encoding_of

GZIP_MAGIC = b"\x1f\x8b"  # how a gzip file starts, whatever its name
HEAD_BYTES = 8192  # how much of a file (and of its text) is looked at to tell what it is
INPUT_BYTES = 64 * 1024  # compressed bytes decoded at a time: bounds a zstd step's output
DECODED = ("bzip2", "xz", "zstd")  # the kinds ``open_decoded`` reads
READ = ("text", "gzip", *DECODED, *ENCODINGS)  # the kinds a log may be
_ZSTD_UNKNOWN = 2**64 - 1  # a zstd frame header's content size when it does not state one

_BZIP2_BLOCK = rb"\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90"  # a block, or the end
_SIGNATURES: tuple[tuple[str, re.Pattern[bytes]], ...] = tuple(
    (kind, re.compile(pattern, re.DOTALL))
    for kind, pattern in (
        ("bzip2", rb"BZh[1-9](?:" + _BZIP2_BLOCK + rb")"),
        ("xz", rb"\xfd7zXZ\x00"),
        ("zstd", rb"\x28\xb5\x2f\xfd|[\x50-\x5f]\x2a\x4d\x18"),  # a frame, or a skippable one
        ("zip", rb"PK(?:\x03\x04|\x05\x06|\x07\x08)"),
        ("7z", rb"7z\xbc\xaf\x27\x1c"),
        ("rar", rb"Rar!\x1a\x07(?:\x00|\x01\x00)"),
        ("lz4", rb"\x04\x22\x4d\x18|\x02\x21\x4c\x18"),
        ("compress", rb"\x1f\x9d"),
        ("lzip", rb"LZIP[\x00\x01]"),
        ("elf", rb"\x7fELF"),
        ("tar", rb".{257}ustar(?:\x00|  \x00)"),  # POSIX or GNU, at offset 257
    )
)
_RECOMPRESS = "(not supported): decompress it, or recompress it with gzip, bzip2, xz or zstd"
_REFUSED = {  # what each kind that is not read is, and what to do
    "zip": "is a zip archive, not a log: unpack it first",
    "tar": "is a tar archive, not a log: unpack it first",
    "7z": "is a 7-Zip archive, not a log: unpack it first",
    "rar": "is a RAR archive, not a log: unpack it first",
    "lz4": f"is lz4-compressed {_RECOMPRESS}",
    "compress": f"is compress (.Z) data {_RECOMPRESS}",
    "lzip": f"is lzip-compressed {_RECOMPRESS}",
    "elf": "is an ELF executable, not a log",
    "binary": "holds binary data, not a text log "
    f"(a NUL byte in its first {HEAD_BYTES // 1024} KiB)",
}


def sniff(head: bytes) -> str:
    """What a file (or a compressed file's text) is, from its first bytes.

    Args:
        head: its first ``HEAD_BYTES`` (fewer if it is shorter).

    Returns:
        ``text``, ``gzip``, ``bzip2``, ``xz``, ``zstd`` or an encoding of ``ENCODINGS`` (read),
        or a kind ``not_a_log`` explains: ``zip``, ``tar``, ``7z``, ``rar``, ``lz4``,
        ``compress``, ``lzip``, ``elf``, ``binary``.
    """
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    for kind, signature in _SIGNATURES:
        if signature.match(head):
            return kind
    if encoding := encoding_of(head[:HEAD_BYTES]):
        return encoding
    return "binary" if b"\x00" in head[:HEAD_BYTES] else "text"


def not_a_log(name: str, kind: str, outer: str | None = None) -> str:
    """The one-line reason why ``name`` is not read.

    Args:
        name: the file, as the user should see it.
        kind: what ``sniff`` found: a refused kind, or (inside ``outer``) any compression.
        outer: the compression ``kind`` was found inside, if any.

    Returns:
        e.g. ``logs/a.zip is a zip archive, not a log: unpack it first``.
    """
    subject = name if outer is None else f"{name}, once {outer}-decompressed,"
    if kind not in _REFUSED:  # a compression inside a compression
        return f"{subject} is {kind}-compressed again: decompress it first"
    return f"{subject} {_REFUSED[kind]}"


def stated_text_size(raw: BinaryIO, kind: str, size: int) -> int | None:
    """How many bytes of text a compressed file says it holds, if its format says so.

    Args:
        raw: the file, opened for binary reading (it is moved about).
        kind: what ``sniff`` found it is.
        size: its size in bytes.

    Returns:
        gzip: the last member's trailer count (modulo 4 GiB); xz: what the last stream's index
        adds up to; zstd: the first frame's header's content size, when it states one. None for
        bzip2 (it states no size), for another kind, or when the fields are not there.

    Raises:
        OSError: the file cannot be read.
    """
    if kind == "gzip" and size >= 4:
        raw.seek(size - 4)
        return int.from_bytes(raw.read(4), "little")
    if kind == "zstd":
        raw.seek(0)
        try:
            stated = zstandard.get_frame_parameters(raw.read(18)).content_size
        except zstandard.ZstdError:
            return None
        return None if stated == _ZSTD_UNKNOWN else stated
    if kind == "xz" and size >= 32:
        raw.seek(size - 12)
        footer = raw.read(12)
        index_size = (int.from_bytes(footer[4:8], "little") + 1) * 4
        if footer[10:] != b"YZ" or index_size > size - 24:
            return None
        raw.seek(size - 12 - index_size)
        return _xz_index_text_size(raw.read(index_size))
    return None


def _xz_index_text_size(index: bytes) -> int | None:
    """The uncompressed sizes an xz index lists, added up; None if it is not an index.

    An index is a NUL byte, the number of records, then each record's unpadded and uncompressed
    sizes, all variable-length integers (7 bits a byte, low first; the top bit: more follows).
    """
    numbers: list[int] = []
    value = shift = 0
    for byte in index[1:] if index[:1] == b"\x00" else b"":
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            numbers.append(value)
            value = shift = 0
            if len(numbers) == 1 + 2 * numbers[0]:
                return sum(numbers[2::2])
        elif shift > 63:
            return None
    return None


class CorruptStream(OSError):
    """A compressed stream that does not decode, or ends before its end-of-stream marker."""


class _Decoder(Protocol):
    """What ``bz2.BZ2Decompressor`` and ``lzma.LZMADecompressor`` offer (``_ZstdDecoder`` too)."""

    eof: bool
    needs_input: bool
    unused_data: bytes

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class _ZstdDecoder:
    """One zstd frame's decoder with the interface of bz2's and lzma's (``max_length``,
    ``needs_input``): zstandard's ``decompressobj`` has no output bound, so what one step of
    input gives beyond ``max_length`` is kept for the next calls."""

    def __init__(self) -> None:
        self._frame = _ZSTD.decompressobj()
        self._out = b""
        self._at = 0

    @property
    def eof(self) -> bool:
        return self._frame.eof and self._at >= len(self._out)

    @property
    def needs_input(self) -> bool:
        return not self._frame.eof and self._at >= len(self._out)

    @property
    def unused_data(self) -> bytes:
        return self._frame.unused_data

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        """Decode ``data`` and return at most ``max_length`` bytes of text (all if negative)."""
        if data:
            decoded = self._frame.decompress(data)
            self._out = self._out[self._at :] + decoded if self._at < len(self._out) else decoded
            self._at = 0
        stop = len(self._out) if max_length < 0 else self._at + max_length
        piece = self._out[self._at : stop]
        self._at += len(piece)
        return piece


_ZSTD = zstandard.ZstdDecompressor()
_NEW_DECODER: dict[str, Callable[[], _Decoder]] = {
    "bzip2": bz2.BZ2Decompressor,
    "xz": lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ),
    "zstd": _ZstdDecoder,
}
_DECODE_ERRORS = (EOFError, OSError, lzma.LZMAError, zstandard.ZstdError)


class _Streams(io.RawIOBase):
    """The text of a bzip2, xz or zstd file: its streams (frames) decoded one after another."""

    def __init__(self, raw: BinaryIO, kind: str):
        self._raw = raw
        self._kind = kind
        self._decoder = _NEW_DECODER[kind]()
        self._position = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def readinto(self, buffer) -> int:  # type: ignore[override]
        """Fill ``buffer`` with the next text (less at the end); raise CorruptStream."""
        data = self._decode(len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()

    def _decode(self, size: int) -> bytes:
        """Up to ``size`` bytes of text, b"" only at the end of the last complete stream."""
        try:
            while True:
                if self._decoder.eof:
                    data = self._next_stream()
                    if not data:
                        return b""
                    self._decoder = _NEW_DECODER[self._kind]()
                elif self._decoder.needs_input:
                    data = self._raw.read(INPUT_BYTES)
                    if not data:
                        raise CorruptStream(f"the {self._kind} data ends before its end marker")
                else:
                    data = b""
                if text := self._decoder.decompress(data, size):
                    return text
        except CorruptStream:
            raise
        except _DECODE_ERRORS as exc:
            raise CorruptStream(f"{self._kind} data: {exc}") from None

    def _next_stream(self) -> bytes:
        """The input after a complete stream (what the decoder left over, else the next read),
        xz's stream padding (NUL bytes) skipped; b"" at the end of the file."""
        data = self._decoder.unused_data
        while True:
            if self._kind == "xz":
                data = data.lstrip(b"\x00")
            if data:
                return data
            data = self._raw.read(INPUT_BYTES)
            if not data:
                return b""


class DecodedReader(io.BufferedReader):
    """A bzip2, xz or zstd file's text, buffered (``read``, ``peek``, ``readline``, ``tell``;
    no ``seek``). Decoding errors are CorruptStream (OSError)."""


def open_decoded(raw: BinaryIO, kind: str) -> DecodedReader:
    """Read the text of ``raw``, a file of ``kind`` (one of ``DECODED``) opened for binary
    reading at its start; closing the reader closes ``raw``. Raises KeyError for another kind."""
    return DecodedReader(_Streams(raw, kind))
