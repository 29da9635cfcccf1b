"""A MIME message written straight to wire bytes: pure, no I/O, no ``email`` package.

Why not ``email.message.EmailMessage``: building, folding and serialising one
through the ``email`` package cost about 1.4 ms of CPU per mail here, most
of the notifier's time per mail; the shape of our mail is always the same
(a few headers, ``multipart/alternative`` with a text and an HTML part), so
it is written directly. Tests parse what this writes with Python's own
parser and compare it with what ``EmailMessage`` made of the same input.

The rules kept, and why:

* CRLF line ends and 7-bit clean output (encoded words, quoted-printable
  bodies), so no relay needs 8BITMIME or SMTPUTF8.
* A header value must never carry a line break of its own: the notifier
  reduces every user-supplied string to one line
  (:func:`vellet.notifier.domain.one_line`) before it gets here, and
  :func:`_one_line_only` refuses CR or LF anyway, so header injection stays
  impossible even if a caller forgets.
* Non-ASCII text, and text that could be mistaken for an encoded word
  (``=?``), is written as RFC 2047 encoded words (``B``, UTF-8, each at most
  75 characters and whole characters only, one per folded line), so every
  line stays far below the 998-octet limit and decodes to exactly the input.
* A display name that is not plain words (``atext`` and spaces) is encoded
  too, rather than quoted: an encoded word needs no escaping rules for
  ``"``, ``\\``, ``,`` or ``:``.
* Bodies are UTF-8 in quoted-printable (``binascii.b2a_qp``: lines of at
  most 76 characters with soft breaks, ``=`` and trailing white space
  encoded), ending in a line break as ``EmailMessage`` ends them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from typing import Final

CRLF: Final = "\r\n"
#: RFC 5322 recommends lines of at most 78 characters (998 is the hard limit).
FOLD_AT: Final = 78
#: ``=?utf-8?b?`` + ``?=``: what an encoded word spends besides its payload.
_WORD_OVERHEAD: Final = 12
#: UTF-8 bytes of an encoded word on a folded line of its own: 45 bytes are
#: 60 base64 characters, a 72-character word, 73 with the folding space.
_WORD_BYTES: Final = 45
#: A plain word longer than a line is left whole on a line of its own (still
#: far below 998 octets) rather than encoded: encoded words would split it,
#: and Python's parser reads a space into a display name at every split.
_LONGEST_WORD: Final = 900
_PRINTABLE_RE: Final = re.compile(r"^[\x20-\x7e]*$")
_VISIBLE_RE: Final = re.compile(r"[\x21-\x7e]+")
_ATEXT_RE: Final = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


def _one_line_only(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("a header value must not contain a line break")
    return value


class _Encoded(str):
    """A run of text to write as encoded words (sized to the line when folding)."""


def encoded_words(text: str, first: int = _WORD_BYTES) -> list[str]:
    """RFC 2047 ``B`` encoded words, each holding whole UTF-8 characters.

    The first holds at most ``first`` bytes (what is left of its line), the
    others :data:`_WORD_BYTES`; so each is at most 75 characters.
    """
    words: list[str] = []
    chunk: list[bytes] = []
    size, limit = 0, first
    for char in text:
        raw = char.encode("utf-8")
        if size + len(raw) > limit and (chunk or words or limit < _WORD_BYTES):
            if chunk:
                words.append(_word(b"".join(chunk)))
            chunk, size, limit = [], 0, _WORD_BYTES
        chunk.append(raw)
        size += len(raw)
    if chunk:
        words.append(_word(b"".join(chunk)))
    return words


def _word(raw: bytes) -> str:
    return f"=?utf-8?b?{base64.b64encode(raw).decode('ascii')}?="


def _fold(name: str, tokens: Iterable[str]) -> str:
    """``Name: tok tok ...`` with a fold (CRLF + space) before a token that would pass 78.

    An :class:`_Encoded` run is cut into encoded words here: the first fills
    what is left of its line (as the ``email`` package does), so a short
    name stays one word -- Python's parser reads a space into a display
    name between two encoded words, which RFC 2047 says to ignore.
    """
    lines: list[str] = []
    line = f"{name}:"
    for token in tokens:
        words = [token]
        if isinstance(token, _Encoded):
            room = (FOLD_AT - len(line) - 1 - _WORD_OVERHEAD) // 4 * 3
            words = encoded_words(token, max(room, 0))
        for word in words:
            if len(line) + 1 + len(word) > FOLD_AT and line != f"{name}:" and line:
                lines.append(line)
                line = ""
            line += f" {word}"
    lines.append(line)
    return CRLF.join(lines)


def _words(text: str, plain_word: re.Pattern[str]) -> list[str]:
    """``text`` as tokens to write space-separated: plain words and encoded runs.

    A run of words that are not ``plain_word`` (non-ASCII, or not ``atext``
    in a display name) becomes encoded words, its inner spaces encoded with
    it; the spaces around the run stay literal separators (RFC 2047 ignores
    white space only *between* encoded words). Folding happens only before a
    token, at a space that was there, so unfolding restores the text. A
    double, leading or trailing space, or anything that could be read as an
    encoded word (``=?``), would not survive that as plain text, so such
    text is encoded whole.
    """
    if "=?" in text or text != text.strip() or "  " in text:
        return [_Encoded(text)]
    out: list[str] = []
    run: list[str] = []
    for word in text.split(" "):
        if plain_word.fullmatch(word) and len(word) <= _LONGEST_WORD:
            if run:
                out.append(_Encoded(" ".join(run)))
                run = []
            out.append(word)
        else:
            run.append(word)
    if run:
        out.append(_Encoded(" ".join(run)))
    return out


def unstructured(name: str, value: str) -> str:
    """An unstructured header (``Subject``): plain words, encoded words where needed."""
    _one_line_only(value)
    return _fold(name, _words(value, _VISIBLE_RE))


def mailbox(name: str, display_name: str, addr_spec: str) -> str:
    """``Name: display name <addr>``; the address must already be a checked plain address."""
    _one_line_only(display_name)
    if not _PRINTABLE_RE.fullmatch(addr_spec) or " " in addr_spec:
        raise ValueError("an address must be plain ASCII")
    if not display_name:
        return f"{name}: {addr_spec}"
    return _fold(name, [*_words(display_name, _ATEXT_RE), f"<{addr_spec}>"])


def plain(name: str, value: str) -> str:
    """A header whose value is ours and ASCII (ids, dates): written as it is."""
    _one_line_only(value)
    if not _PRINTABLE_RE.fullmatch(value) or len(value) + len(name) > 900:
        raise ValueError(f"{name} must be short printable ASCII")
    if len(name) + 2 + len(value) > FOLD_AT:
        # A long Message-ID cannot be broken inside; it goes on a line of its own.
        return f"{name}:{CRLF} {value}"
    return f"{name}: {value}"


def quoted_printable(text: str) -> bytes:
    """A UTF-8 body in quoted-printable with CRLF line ends, ending in a line break."""
    if not text.endswith("\n"):
        text += "\n"
    # Only LF reaches here from the templates; a stray CR would become a bare
    # line end in the encoded body, so it is normalised first.
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")


def alternative(headers: list[str], boundary: str, text: str, html: str) -> bytes:
    """The whole message: ``headers``, then ``multipart/alternative`` of text and HTML."""
    head = CRLF.join([
        *headers,
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"',
    ])  # fmt: skip
    part = 'Content-Type: text/{0}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'
    # The CRLF before a delimiter belongs to the delimiter (RFC 2046 5.1.1),
    # so each body's own final line break needs one more after it.
    delimiter = f"--{boundary}\r\n".encode("ascii")
    after = f"\r\n--{boundary}\r\n".encode("ascii")
    return b"".join([
        head.encode("ascii"), b"\r\n\r\n",
        delimiter, part.format("plain").encode("ascii"), b"\r\n\r\n", quoted_printable(text),
        after, part.format("html").encode("ascii"), b"\r\n\r\n", quoted_printable(html),
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    ])  # fmt: skip
