"""Opening input files as text whatever their packaging: gzip by its magic bytes (not its name),
a UTF-8 / UTF-16 / UTF-32 byte-order mark, and universal line endings (CRLF, LF, a lone CR)."""
from __future__ import annotations

import codecs
import gzip
import io
from pathlib import Path

from metrics.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def open_binary(path: Path):
    """The file's bytes, decompressed when it is gzip (by magic bytes)."""
    return gzip.open(path, "rb") if is_gzip(path) else open(path, "rb")


def encoding_of(head: bytes) -> str:
    """The text encoding a file's first bytes announce (BOM), else UTF-8."""
    for bom, enc in _BOMS:
        if head.startswith(bom):
            return enc
    return "utf-8"


def open_text(path: Path, newline: str | None = None):
    """A text stream over the file: gzip and BOM handled, strict decoding (bad bytes raise
    UnicodeDecodeError, which read_text turns into an InputError)."""
    with open_binary(path) as fh:
        enc = encoding_of(fh.read(4))
    return io.TextIOWrapper(open_binary(path), encoding=enc, newline=newline)


def read_text(path: Path) -> str:
    """The whole file as text; undecodable bytes give an InputError naming the line."""
    path = Path(path)
    with open_binary(path) as fh:
        try:
            data = fh.read()
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise InputError(f"cannot read: {e}", file=str(path)) from None
    enc = encoding_of(data[:4])
    try:
        return data.decode(enc)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(f"not {enc.upper().replace('-SIG', '')} text ({e.reason} at byte {e.start})",
                         file=str(path), line=line) from None


def mixed_newlines(path: Path, chunk: int = 1 << 22) -> bool:
    """True when the file mixes line-ending styles: two of CRLF, bare LF and bare CR (one
    streaming pass)."""
    crlf = lf = cr = 0
    carry = b""
    with open_binary(path) as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            data = carry + block
            carry = b"\r" if data.endswith(b"\r") else b""
            if carry:
                data = data[:-1]
            n = data.count(b"\r\n")
            crlf += n
            lf += data.count(b"\n") - n
            cr += data.count(b"\r") - n
            if (crlf > 0) + (lf > 0) + (cr > 0) >= 2:
                return True
    cr += len(carry)
    return (crlf > 0) + (lf > 0) + (cr > 0) >= 2


def normalize_newlines(path: Path, out: Path, chunk: int = 1 << 22) -> Path:
    """A copy of the file (decompressed) with every CRLF and bare CR turned into LF, streaming;
    line numbers are those of a reader that ends lines at any of them. Used only for files that
    mix endings, which DuckDB's strict CSV reader refuses (a bare CR inside a quoted field of
    such a file becomes LF)."""
    with open_binary(path) as src, open(out, "wb") as dst:
        carry = b""
        while True:
            block = src.read(chunk)
            if not block:
                dst.write(carry.replace(b"\r", b"\n"))
                break
            data = carry + block
            carry = b"\r" if data.endswith(b"\r") else b""
            if carry:
                data = data[:-1]
            dst.write(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n"))
    return out
