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
    """True when the file has both CRLF and bare LF line endings (one streaming pass)."""
    crlf = lf = False
    prev = b""
    with open_binary(path) as fh:
        while not (crlf and lf):
            block = fh.read(chunk)
            if not block:
                break
            data = prev + block
            n_lf = data.count(b"\n")
            n_crlf = data.count(b"\r\n")
            crlf |= n_crlf > 0
            lf |= n_lf > n_crlf
            prev = data[-1:]
            # a CRLF split across blocks is counted in the next block (prev keeps the CR)
            if prev == b"\r":
                prev = b"\r"
            else:
                prev = b""
    return crlf and lf


def normalize_newlines(path: Path, out: Path, chunk: int = 1 << 22) -> Path:
    """A copy of the file (decompressed) with every CRLF turned into LF, streaming; line
    numbers are unchanged. Used only for files with mixed endings, which DuckDB's strict CSV
    reader refuses."""
    with open_binary(path) as src, open(out, "wb") as dst:
        carry = b""
        while True:
            block = src.read(chunk)
            if not block:
                dst.write(carry)
                break
            data = carry + block
            carry = b"\r" if data.endswith(b"\r") else b""
            if carry:
                data = data[:-1]
            dst.write(data.replace(b"\r\n", b"\n"))
    return out
