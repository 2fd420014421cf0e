"""Wallet addresses: which family an address belongs to, checked the way wallets check them.

Pure functions: no Airflow, no HTTP. An address is read before any request is sent; one that
fails its family's checksum is refused with the reason, so a mistyped wallet is never
"checked" and reported empty. docs/addresses.md lists every family, its checks, its identity
(:func:`address_key`) and its stored form (:func:`stored_address`).

- EVM (``0x`` + 40 hex): EIP-55. Mixed case must match the Keccak-256 checksum; all lower or
  all upper case carries no checksum and is accepted, as EIP-55 says.
- Bitcoin: base58check P2PKH ``1`` (version 0x00) and P2SH ``3`` (0x05); segwit ``bc1``
  (BIP-173 bech32 for witness version 0 with a 20- or 32-byte program, BIP-350 bech32m for
  versions 1 to 16 with a 2- to 40-byte program; one case throughout).
- Litecoin: ``L`` (0x30), ``M`` (0x32), ``3`` (0x05, shared with Bitcoin), ``ltc1`` segwit.
- Dogecoin: ``D`` (0x1e), ``9``/``A`` (0x16).
- Tron: base58check ``T`` (0x41).
- Solana: base58 of exactly 32 bytes (no checksum exists: only the length can be checked).
- TON: raw ``<workchain>:<64 hex>`` (workchain 0 or -1), or user-friendly: 48 characters of
  base64 (url-safe or standard) for 36 bytes whose last two are the CRC16-XMODEM of the rest.
- Sui, Aptos: ``0x`` + 41 to 64 hex digits; no checksum exists.
- Testnet addresses (``tb1``, ``m``/``n``/``2``, ``tltc1``, TON's test-only flag...) are
  refused: OKX's wallet API serves mainnets, so a testnet wallet would read as empty.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from dataclasses import dataclass

EVM = "evm"
SOLANA = "solana"
BITCOIN = "bitcoin"
LITECOIN = "litecoin"
DOGECOIN = "dogecoin"
TRON = "tron"
TON = "ton"
SUI = "sui"
APTOS = "aptos"


@dataclass(frozen=True)
class Reading:
    """What an address is: the families it validly belongs to, or why it belongs to none."""

    families: frozenset[str]
    problem: str = ""


def _none(problem: str) -> Reading:
    return Reading(frozenset(), problem)


# --- EIP-55 -----------------------------------------------------------------------------------


def keccak256(data: bytes) -> bytes:
    """Keccak-256 as Ethereum uses it (``hashlib.sha3_256`` is the later FIPS-202 padding and
    gives another digest)."""
    from Crypto.Hash import keccak  # pycryptodome; imported on the first EVM address only

    return keccak.new(digest_bits=256, data=data).digest()


def eip55(hex40: str) -> str:
    """The EIP-55 checksummed spelling of 40 hex digits (without ``0x``)."""
    lower = hex40.lower()
    digest = keccak256(lower.encode("ascii")).hex()
    return "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(lower))


def _read_hex(text: str) -> Reading:
    digits = text[2:]
    bad = next((i for i, c in enumerate(digits) if c not in "0123456789abcdefABCDEF"), None)
    if text[:2] == "0X":
        return _none("write the prefix as lower-case 0x")
    if bad is not None:
        return _none(f"{digits[bad]!r} at position {bad + 3} is not a hex digit")
    if len(digits) == 40:
        if digits in (digits.lower(), digits.upper()) or eip55(digits) == digits:
            return Reading(frozenset({EVM}))
        return _none(
            "its mixed case fails the EIP-55 checksum: a character was mistyped or its case "
            "changed; copy the address again from the wallet or explorer"
        )
    if 40 < len(digits) <= 64:
        return Reading(frozenset({SUI, APTOS}))
    return _none(f"0x and {len(digits)} hex digits: an EVM address has 40, a Sui or Aptos address 64")


# --- base58 and base58check ------------------------------------------------------------------

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}


def b58decode(text: str) -> bytes:
    """Decode base58 (Bitcoin's alphabet); each leading ``1`` is a zero byte. Raises
    ``ValueError`` naming the first character outside the alphabet."""
    number = 0
    for position, char in enumerate(text, 1):
        if char not in _B58_INDEX:
            raise ValueError(
                f"{char!r} at position {position} is not a base58 character (base58 leaves out 0, O, I and l)"
            )
        number = number * 58 + _B58_INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")


def b58check_payload(raw: bytes) -> bytes | None:
    """The payload of decoded base58check bytes, or ``None`` when the 4-byte checksum (double
    SHA-256) does not match."""
    payload, check = raw[:-4], raw[-4:]
    return payload if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == check else None


_VERSIONS: dict[int, frozenset[str]] = {
    0x00: frozenset({BITCOIN}),
    0x05: frozenset({BITCOIN, LITECOIN}),
    0x30: frozenset({LITECOIN}),
    0x32: frozenset({LITECOIN}),
    0x1E: frozenset({DOGECOIN}),
    0x16: frozenset({DOGECOIN}),
    0x41: frozenset({TRON}),
}
"""Version byte of a 25-byte base58check address -> families (P2PKH and P2SH of each coin)."""

_TESTNET_VERSIONS = {0x6F: "Bitcoin", 0xC4: "Bitcoin", 0x3A: "Litecoin", 0x71: "Dogecoin"}


def _read_base58(text: str) -> Reading:
    try:
        raw = b58decode(text)
    except ValueError as error:
        return _none(str(error))
    if len(raw) == 32:
        return Reading(frozenset({SOLANA}))
    if len(raw) == 25:
        payload = b58check_payload(raw)
        if payload is None:
            return _none("its base58check checksum does not match: a character was mistyped")
        version = payload[0]
        if version in _VERSIONS:
            return Reading(_VERSIONS[version])
        if version in _TESTNET_VERSIONS:
            return _none(f"a {_TESTNET_VERSIONS[version]} testnet address; OKX's wallet API serves mainnets")
        return _none(f"version byte 0x{version:02x} is not a Bitcoin, Litecoin, Dogecoin or Tron address")
    return _none(
        f"base58 of {len(raw)} bytes: a Solana address is 32 bytes; a Bitcoin, Litecoin, Dogecoin "
        "or Tron address 25 with its checksum"
    )


# --- bech32 / bech32m (BIP-173, BIP-350) -------------------------------------------------------

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32 = 1
BECH32M = 0x2BC830A3
"""The constant the polymod must equal: 1 for bech32 (BIP-173), 0x2bc830a3 for bech32m (BIP-350)."""


def _polymod(values: list[int]) -> int:
    generator = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generator[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def bech32_decode(text: str) -> tuple[str, list[int], int]:
    """Decode a bech32 or bech32m string into (hrp, 5-bit data without the checksum, the
    encoding constant). Raises ``ValueError`` saying what is wrong."""
    if any(not 33 <= ord(c) <= 126 for c in text):
        raise ValueError("a character outside printable ASCII")
    if text.lower() != text and text.upper() != text:
        raise ValueError("mixed upper and lower case (bech32 is written in one case)")
    if len(text) > 90:
        raise ValueError(f"{len(text)} characters: bech32 allows at most 90")
    lower = text.lower()
    separator = lower.rfind("1")
    if separator < 0:
        raise ValueError("no separator 1 between the human-readable part and the data")
    if separator == 0:
        raise ValueError("no human-readable part before the separator 1")
    if separator + 7 > len(lower):
        raise ValueError("too short for its 6-character checksum")
    bad = next((c for c in lower[separator + 1 :] if c not in BECH32_CHARSET), None)
    if bad is not None:
        raise ValueError(f"{bad!r} is not a bech32 character (bech32 leaves out 1, b, i and o)")
    hrp = lower[:separator]
    data = [BECH32_CHARSET.index(c) for c in lower[separator + 1 :]]
    constant = _polymod(_hrp_expand(hrp) + data)
    if constant not in (BECH32, BECH32M):
        raise ValueError("its bech32 checksum does not match: a character was mistyped")
    return hrp, data[:-6], constant


def _convertbits(data: list[int], frombits: int, tobits: int) -> list[int]:
    """Regroup bits without padding (decoding): more than 4 leftover bits, or leftover bits
    that are not zero, make the data invalid."""
    acc = bits = 0
    out = []
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & ((1 << tobits) - 1))
    if bits >= frombits or (acc << (tobits - bits)) & ((1 << tobits) - 1):
        raise ValueError("its padding bits are invalid")
    return out


def segwit_decode(text: str) -> tuple[str, int, bytes]:
    """A segwit address as (hrp, witness version, program), every BIP-173/BIP-350 rule
    checked. Raises ``ValueError`` saying what is wrong."""
    hrp, data, constant = bech32_decode(text)
    if not data:
        raise ValueError("no witness version or program")
    version = data[0]
    if version > 16:
        raise ValueError(f"witness version {version} (0 to 16 exist)")
    program = bytes(_convertbits(data[1:], 5, 8))
    if not 2 <= len(program) <= 40:
        raise ValueError(f"a {len(program)}-byte witness program (2 to 40 bytes)")
    if version == 0 and len(program) not in (20, 32):
        raise ValueError(f"a {len(program)}-byte version 0 witness program (20 or 32 bytes)")
    if version == 0 and constant != BECH32:
        raise ValueError("witness version 0 takes a bech32 checksum, not bech32m (BIP-350)")
    if version != 0 and constant != BECH32M:
        raise ValueError(f"witness version {version} takes a bech32m checksum, not bech32 (BIP-350)")
    return hrp, version, program


_SEGWIT_HRPS = {"bc": BITCOIN, "ltc": LITECOIN}
_TESTNET_HRPS = {"tb": "Bitcoin", "bcrt": "Bitcoin", "tltc": "Litecoin", "rltc": "Litecoin"}


def _hrp_of(text: str) -> str:
    return text[: text.rfind("1")].lower() if "1" in text else ""


def _read_segwit(text: str) -> Reading:
    hrp = _hrp_of(text)
    if hrp in _TESTNET_HRPS:
        return _none(f"a {_TESTNET_HRPS[hrp]} testnet address; OKX's wallet API serves mainnets")
    try:
        hrp, _, _ = segwit_decode(text)
    except ValueError as error:
        return _none(str(error))
    return Reading(frozenset({_SEGWIT_HRPS[hrp]}))


# --- TON ---------------------------------------------------------------------------------------

_TON_RAW_RE = re.compile(r"^(-?[0-9]+):([0-9a-fA-F]*)$")
_TON_FRIENDLY_RE = re.compile(r"^[A-Za-z0-9_+/-]{48}$")
_TON_TAGS = {0x11, 0x51}
"""Bounceable and non-bounceable; 0x80 added marks a test-only address."""


def _read_ton_raw(match: re.Match[str]) -> Reading:
    workchain, account = match.groups()
    if workchain not in ("0", "-1"):
        return _none(f"TON workchain {workchain} (0 or -1)")
    if len(account) != 64:
        return _none(f"a TON account of {len(account)} hex digits (64)")
    return Reading(frozenset({TON}))


def _read_ton_friendly(text: str) -> Reading:
    if ("-" in text or "_" in text) and ("+" in text or "/" in text):
        return _none("mixes url-safe (- _) and standard (+ /) base64")
    raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_"))
    tag, workchain, crc = raw[0], raw[1], raw[34:]
    if binascii.crc_hqx(raw[:34], 0).to_bytes(2, "big") != crc:
        return _none("its TON checksum (CRC16) does not match: a character was mistyped")
    if tag & 0x80 and tag & 0x7F in _TON_TAGS:
        return _none("a TON testnet address; OKX's wallet API serves mainnets")
    if tag not in _TON_TAGS:
        return _none(f"TON flags byte 0x{tag:02x} (0x11 bounceable or 0x51 non-bounceable)")
    if workchain not in (0x00, 0xFF):
        return _none(f"TON workchain byte 0x{workchain:02x} (0 or -1)")
    return Reading(frozenset({TON}))


# --- reading an address ------------------------------------------------------------------------

MAX_ADDRESS_LENGTH = 128
"""Longer than any wallet address of the families OKX serves (bech32 tops out at 90); also
bounds the work of decoding base58, whose cost grows with the square of the length."""

_B58_RE = re.compile(rf"^[{B58_ALPHABET}]+$")
_BARE_HEX40_RE = re.compile(r"^[0-9a-fA-F]{40}$")
_BASE58ISH_RE = re.compile(r"^[A-Za-z0-9]{25,50}$")


@functools.lru_cache(maxsize=1024)
def read_address(text: str) -> Reading:
    """The families ``text`` validly belongs to; when none, the problem found in the format it
    looks most like. ``text`` is taken as given (strip it first).

    A pure function of ``text``, so the last 1,024 readings are kept: a call checks its address
    twice (the address, then its family against the chains) and a DAG asks about the same
    wallets again and again, while an EIP-55 checksum (Keccak-256) costs about 30 us a time.
    """
    if len(text) > MAX_ADDRESS_LENGTH:
        return _none(f"longer than any wallet address ({len(text)} characters)")
    if text[:2] in ("0x", "0X"):
        return _read_hex(text)
    if match := _TON_RAW_RE.match(text):
        return _read_ton_raw(match)
    readings: list[Reading] = []
    if _hrp_of(text) in (*_SEGWIT_HRPS, *_TESTNET_HRPS):
        readings.append(_read_segwit(text))
    if _TON_FRIENDLY_RE.match(text):
        readings.append(_read_ton_friendly(text))
    if _B58_RE.match(text) or (not readings and _BASE58ISH_RE.match(text)):
        readings.append(_read_base58(text))  # the second case names the character base58 leaves out
    if _BARE_HEX40_RE.match(text):
        return _none("40 hex digits without the 0x an EVM address starts with")
    families = frozenset().union(*(r.families for r in readings))
    if families:
        return Reading(families)
    if readings:
        return readings[0]
    return _none("not a wallet address of any chain family OKX serves")


def address_families(address: str) -> frozenset[str]:
    """The address families ``address`` validly belongs to (checksums verified); empty if none."""
    return read_address(address.strip()).families


_HEX40_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")


def token_address_problem(token: str) -> str:
    """Why a token contract address cannot be right, or ``""``. Only the EVM checksum is
    checked (a mixed-case ``0x`` + 40 hex that fails EIP-55): token ids of other chains
    (``btc-brc20-ordi``, ``0x2::sui::SUI``, mints...) are passed through to OKX as written."""
    return _read_hex(token).problem if _HEX40_RE.match(token) else ""


# --- identity and stored form ---------------------------------------------------------------------

_FOLDABLE_RE = re.compile(
    r"^(?:0x[0-9a-fA-F]+|(?:bc|ltc)1[02-9ac-hj-np-z]+|(?:BC|LTC)1[02-9AC-HJ-NP-Z]+|-?[0-9]+:[0-9a-fA-F]{64})$"
)


def address_key(address: str) -> str:
    """The identity of an address (or token contract), and the form stored and published.

    Case is folded only where the address family ignores it: ``0x`` hex (EVM, whose mixed
    case is only a checksum; Sui; Aptos), bech32 (``bc1``, ``ltc1``: BIP-173 makes lower case
    the canonical form) and TON's raw ``0:<hex>`` form. Base58 (Solana, Tron, legacy Bitcoin,
    Litecoin, Dogecoin) and TON's user-friendly form are case-sensitive and kept as written,
    as is anything unrecognised (inscription ids). Surrounding whitespace is dropped.
    """
    text = address.strip()
    return text.lower() if _FOLDABLE_RE.match(text) else text


_HEX_RE = re.compile(r"^0x[0-9a-fA-F]+$")


def stored_address(address: str) -> str:
    """The form a wallet is written in where a person reads it (the SQL loader's ``address``
    column, as the README documents): ``0x`` hex lower-cased (EVM, Sui, Aptos: its case is
    only a checksum), every other address as configured, surrounding whitespace dropped (an
    upper-case bech32 address stays upper-case). Matching always uses :func:`address_key`."""
    text = address.strip()
    return text.lower() if _HEX_RE.match(text) else text
