"""Wallet addresses checked the way wallets check them: the published test vectors of each
BIP/EIP, and the careless user (a typo, an address of one family asked on another's chain).

Vectors: EIP-55's own examples; BIP-173 and BIP-350's, as in the reference implementation's
tests (sipa/bech32, ref/python/tests.py); base58check addresses published by the Bitcoin wiki
and by wallet validators' test suites (Bitcoin, Litecoin, Dogecoin); Tron's and Solana's
documented addresses; TON's documented user-friendly address and its raw form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

import pytest

from airflow_provider_okx.core.addresses import (
    BECH32,
    BECH32M,
    BITCOIN,
    DOGECOIN,
    EVM,
    LITECOIN,
    SOLANA,
    TON,
    TRON,
    address_key,
    b58decode,
    bech32_decode,
    eip55,
    keccak256,
    read_address,
    segwit_decode,
    stored_address,
)
from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.chains import check_family, compatible_chains, validate_address

# --- EIP-55 ------------------------------------------------------------------------------------

EIP55_ALL_CAPS = ["0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D"]
EIP55_ALL_LOWER = ["0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26"]
EIP55_NORMAL = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]


def test_keccak256_is_keccak_not_fips_sha3():
    empty = "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    assert keccak256(b"").hex() == empty
    assert hashlib.sha3_256(b"").hexdigest() != empty


@pytest.mark.parametrize("address", EIP55_ALL_CAPS + EIP55_ALL_LOWER + EIP55_NORMAL)
def test_eip55_examples_are_accepted(address):
    assert read_address(address).families == {EVM}
    assert validate_address(address) == address


@pytest.mark.parametrize("address", EIP55_NORMAL)
def test_eip55_checksum_is_recomputed(address):
    assert "0x" + eip55(address[2:]) == address
    assert "0x" + eip55(address[2:].lower()) == address


@pytest.mark.parametrize("address", EIP55_NORMAL)
def test_every_single_case_flip_of_an_eip55_address_is_refused(address):
    letters = [i for i, c in enumerate(address) if i > 1 and c.isalpha()]
    for i in letters:
        flipped = address[:i] + address[i].swapcase() + address[i + 1 :]
        assert not read_address(flipped).families, flipped
    assert len(letters) >= 10


@pytest.mark.parametrize("address", EIP55_NORMAL)
def test_every_one_character_typo_of_an_eip55_address_is_refused(address):
    """A hex digit replaced by any other, in the case a user would type it next to its
    neighbours: refused by the checksum (600 typos per address, none slips through)."""
    typos = 0
    for i in range(2, 42):
        for digit in "0123456789abcdef":
            if digit == address[i].lower():
                continue
            typed = digit.upper() if address[i].isupper() else digit
            typo = address[:i] + typed + address[i + 1 :]
            if typo[2:] in (typo[2:].lower(), typo[2:].upper()):
                continue  # no checksum left to check: EIP-55 accepts it
            typos += 1
            assert not read_address(typo).families, typo
    assert typos > 500


def test_an_eip55_typo_names_the_field_the_address_and_the_checksum():
    typo = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"
    with pytest.raises(OkxInvalidInputError) as info:
        validate_address(f" {typo}", "wallets")
    assert info.value.field == "wallets"
    assert info.value.value == f" {typo}"
    assert "EIP-55 checksum" in info.value.reason


@pytest.mark.parametrize(
    ("address", "phrase"),
    [
        ("0XD1220A0CF47C7B9BE7A2E6BA89F429762E7B9ADB", "lower-case 0x"),
        ("0x02fcd51aAbB814FfFe17908fbc888A8975D839A5", "EIP-55"),
        ("0xff4d6793F584a473", "16 hex digits"),
        ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", "'g' at position 42 is not a hex digit"),
        ("6xAff4d6793F584a473348EbA058deb8caad77a288", "base58"),
        ("bd839e4f6fadb293ba580df5dea7814399989983", "without the 0x"),
    ],
)
def test_malformed_hex_is_refused_with_the_reason(address, phrase):
    reading = read_address(address)
    assert not reading.families
    assert phrase in reading.problem


# --- BIP-173 / BIP-350 -----------------------------------------------------------------------

VALID_BECH32 = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]
VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
]
INVALID_BECH32 = [
    " 1nwldj5",
    "\x7f" + "1axkwrx",
    "\x80" + "1eym55h",
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    "pzry9x0s0muk",
    "1pzry9x0s0muk",
    "x1b4n0q5v",
    "li1dgmt3",
    "de1lg7wt" + "\xff",
    "A1G7SGD8",
    "10a06t8",
    "1qzzfhee",
]
INVALID_BECH32M = [
    " 1xj0phk",
    "\x7f" + "1g6xzxy",
    "\x80" + "1vctc34",
    "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
    "qyrz8wqd2c9m",
    "1qyrz8wqd2c9m",
    "y1b0jsk6g",
    "lt1igcx5c0",
    "in1muywd",
    "mm1crxm3i",
    "au1s5cgom",
    "M1VUXWEZ",
    "16plkw9",
    "1p2gdwpf",
]
VALID_SEGWIT = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]
INVALID_SEGWIT = [
    ("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", "not a wallet address"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", "bech32m checksum, not bech32"),
    ("tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", "testnet"),
    ("BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", "bech32m checksum, not bech32"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", "bech32 checksum, not bech32m"),
    ("tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", "testnet"),
    ("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", "'o' is not a bech32 character"),
    ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", "witness version 17"),
    ("bc1pw5dgrnzv", "a 1-byte witness program"),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        "a 41-byte witness program",
    ),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", "a 16-byte version 0 witness program"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", "testnet"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", "padding"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", "testnet"),
    ("bc1gmk9yu", "no witness version"),
    # BIP-173's own invalid addresses (those BIP-350 did not replace)
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "checksum does not match"),
    ("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", "witness version 17"),
    ("bc1rw5uspcuh", "a 1-byte witness program"),
    (
        "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
        "a 41-byte witness program",
    ),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", "padding"),
    # bech32 (BIP-173) encodings of version 1+ programs, valid before BIP-350
    ("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx", "bech32m checksum"),
    ("BC1SW50QA3JX3S", "bech32m checksum"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvg6kdaj", "bech32m checksum"),
    # mixed case in a mainnet address
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3T4", "mixed upper and lower case"),
]


@pytest.mark.parametrize(
    ("text", "constant"), [(t, BECH32) for t in VALID_BECH32] + [(t, BECH32M) for t in VALID_BECH32M]
)
def test_bip173_bip350_valid_strings_and_one_flip_refused(text, constant):
    assert bech32_decode(text)[2] == constant
    pos = text.rfind("1")
    flipped = text[: pos + 1] + chr(ord(text[pos + 1]) ^ 1) + text[pos + 2 :]
    with pytest.raises(ValueError):
        bech32_decode(flipped)


@pytest.mark.parametrize(
    ("text", "constant"), [(t, BECH32) for t in INVALID_BECH32] + [(t, BECH32M) for t in INVALID_BECH32M]
)
def test_bip173_bip350_invalid_strings(text, constant):
    try:
        _, _, decoded = bech32_decode(text)
    except ValueError:
        return
    assert decoded != constant


@pytest.mark.parametrize(("address", "script"), VALID_SEGWIT)
def test_bip350_valid_addresses_decode_to_their_script(address, script):
    _, version, program = segwit_decode(address)
    assert bytes([version + 0x50 if version else 0, len(program)]) + program == bytes.fromhex(script)
    reading = read_address(address)
    if address.lower().startswith("bc1"):
        assert reading.families == {BITCOIN}
    else:
        assert not reading.families and "testnet" in reading.problem


@pytest.mark.parametrize(("address", "phrase"), INVALID_SEGWIT)
def test_bip173_bip350_invalid_addresses_are_refused_with_the_reason(address, phrase):
    reading = read_address(address)
    assert not reading.families
    assert phrase in reading.problem


def test_litecoin_segwit_and_its_testnet():
    assert read_address("ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea").families == {LITECOIN}
    assert "Litecoin testnet" in read_address("tltc1qu78xur5xnq6fjy83amy0qcjfau8m367defyhms").problem


# --- base58check: Bitcoin, Litecoin, Dogecoin, Tron ----------------------------------------------

BASE58CHECK = [
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", {BITCOIN}),  # the genesis block's
    ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", {BITCOIN}),
    ("16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM", {BITCOIN}),
    ("12KYrjTdVGjFMtaxERSk3gphreJ5US8aUP", {BITCOIN}),
    ("1oNLrsHnBcR6dpaBpwz3LSwutbUNkNSjs", {BITCOIN}),
    ("116CGDLddrZhMrTwhCVJXtXQpxygTT1kHd", {BITCOIN}),
    ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", {BITCOIN, LITECOIN}),
    ("3NJZLcZEEYBpxYEUGewU4knsQRn1WM5Fkt", {BITCOIN, LITECOIN}),
    ("LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9", {LITECOIN}),
    ("LTpYZG19YmfvY2bBDYtCKpunVRw7nVgRHW", {LITECOIN}),
    ("Lb6wDP2kHGyWC7vrZuZAgV7V4ECyDdH7a6", {LITECOIN}),
    ("DPpJVPpvPNP6i6tMj4rTycAGh8wReTqaSU", {DOGECOIN}),
    ("DNzLUN6MyYVS5zf4Xc2yK69V3dXs6Mxia5", {DOGECOIN}),
    ("A7JjzK9k9x5b2MkkQzqt91WZsuu7wTu6iS", {DOGECOIN}),
    ("TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7", {TRON}),  # Tron's documentation
    ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", {TRON}),  # USDT's TRC-20 contract
]


@pytest.mark.parametrize(("address", "families"), BASE58CHECK)
def test_base58check_addresses_are_read_by_their_version_byte(address, families):
    assert read_address(address).families == families
    assert len(b58decode(address)) == 25


@pytest.mark.parametrize(("address", "_"), BASE58CHECK)
def test_a_one_character_typo_in_a_base58check_address_is_refused(address, _):
    i = len(address) // 2
    replacement = "2" if address[i] != "2" else "3"
    typo = address[:i] + replacement + address[i + 1 :]
    reading = read_address(typo)
    assert not reading.families
    assert "checksum does not match" in reading.problem


@pytest.mark.parametrize(
    ("address", "phrase"),
    [
        ("mptPo5AvLzJXi4T82vR6g82fT5uJ6HsQCu", "Bitcoin testnet"),
        ("mzBc4XEFSdzCDcTxAgf6EZXgsZWpztRhef", "Bitcoin testnet"),
        ("2MxKEf2su6FGAUfCEAHreGFQvEYrfYNHvL7", "Bitcoin testnet"),
        ("QW2SvwjaJU8LD6GSmtm1PHnBG2xPuxwZFy", "Litecoin testnet"),
        ("GSa5espVLNseXEfKt46zEdS6jrPkmFghBU", "version byte 0x26"),
        ("1A1zP1ePQGefi2DMPTifTL5SLmv7DivfNa", "checksum does not match"),
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7Divf", "base58 of 24 bytes"),
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNO", "'O' at position 34 is not a base58 character"),
        ("%%@", "not a wallet address"),
    ],
)
def test_testnet_and_malformed_base58_are_refused(address, phrase):
    reading = read_address(address)
    assert not reading.families
    assert phrase in reading.problem


# --- Solana ------------------------------------------------------------------------------------

SOLANA_ADDRESSES = [
    "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
    "11111111111111111111111111111111",  # the system program
    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",  # the token program: a T, yet not Tron
    "So11111111111111111111111111111111111111112",  # wrapped SOL
    "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",  # USDC's mint
]


@pytest.mark.parametrize("address", SOLANA_ADDRESSES)
def test_solana_is_base58_of_exactly_32_bytes(address):
    assert read_address(address).families == {SOLANA}
    assert len(b58decode(address)) == 32
    shorter = read_address(address[:-2])
    assert not shorter.families
    assert "bytes: a Solana address is 32 bytes" in shorter.problem


@pytest.mark.parametrize("address", [a for a, _ in BASE58CHECK])
def test_legacy_bitcoin_litecoin_dogecoin_and_tron_are_never_taken_for_solana(address):
    assert SOLANA not in read_address(address).families
    with pytest.raises(OkxInvalidInputError) as info:
        check_family(address, ["501"])
    assert "Solana (501)" in info.value.reason
    assert compatible_chains(address, ["501"]) == []


def test_a_mistyped_tron_address_is_not_read_as_anything():
    tron = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7"
    typo = tron[:-1] + "8"
    with pytest.raises(OkxInvalidInputError) as info:
        validate_address(typo)
    assert info.value.value == typo
    assert "checksum does not match" in info.value.reason


# --- TON ---------------------------------------------------------------------------------------

TON_FRIENDLY = "EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N"  # TON's documentation
TON_RAW = "0:83dfd552e63729b472fcbcc8c45ebcc6691702558b68ec7527e1ba403a0f31a8"  # the same account


def _ton(tag: int, workchain: int, account: bytes) -> str:
    body = bytes([tag, workchain]) + account
    return base64.urlsafe_b64encode(body + binascii.crc_hqx(body, 0).to_bytes(2, "big")).decode()


def test_ton_user_friendly_and_raw_forms():
    raw = base64.urlsafe_b64decode(TON_FRIENDLY)
    assert raw[2:34].hex() == TON_RAW.split(":")[1]
    account = raw[2:34]
    assert _ton(0x11, 0, account) == TON_FRIENDLY
    for address in (
        TON_FRIENDLY,
        TON_RAW,
        TON_RAW.upper(),
        "-1:" + account.hex(),
        _ton(0x51, 0, account),  # non-bounceable (UQ...)
        _ton(0x11, 0xFF, account),  # masterchain (Ef...)
        _ton(0x11, 0, account).replace("-", "+").replace("_", "/"),  # standard base64
    ):
        assert read_address(address).families == {TON}, address


@pytest.mark.parametrize(
    ("address", "phrase"),
    [
        (TON_FRIENDLY[:-1] + "M", "CRC16"),
        (TON_FRIENDLY[:10] + "x" + TON_FRIENDLY[11:], "CRC16"),
        (_ton(0x91, 0, bytes(32)), "TON testnet"),
        (_ton(0x11, 7, bytes(32)), "workchain byte 0x07"),
        (_ton(0x22, 0, bytes(32)), "flags byte 0x22"),
        ("5:" + "ab" * 32, "TON workchain 5"),
        ("0:" + "ab" * 31, "62 hex digits"),
    ],
)
def test_malformed_ton_is_refused(address, phrase):
    reading = read_address(address)
    assert not reading.families
    assert phrase in reading.problem


# --- Sui and Aptos (no checksum exists) ------------------------------------------------------------


def test_sui_and_aptos_are_checked_by_shape_only():
    assert read_address("0x" + "ab" * 32).families == {"sui", "aptos"}
    assert "64" in read_address("0x" + "ab" * 33).problem


# --- the family of the chain, before any request ---------------------------------------------------

EVM_WALLET = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
CASES_ON_THE_WRONG_CHAIN = [
    (EVM_WALLET, "solana"),
    ("TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7", "solana"),
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "solana"),
    ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "tron"),
    ("9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM", "ethereum"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", "litecoin"),
    ("LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9", "bitcoin"),
    ("DPpJVPpvPNP6i6tMj4rTycAGh8wReTqaSU", "litecoin"),
    (TON_FRIENDLY, "base"),
    ("0x" + "ab" * 32, "ethereum"),
]


@pytest.mark.parametrize(("address", "chain"), CASES_ON_THE_WRONG_CHAIN)
def test_an_address_on_a_chain_of_another_family_sends_no_request(okx_conn, requests_mock, address, chain):
    from airflow_provider_okx.hooks.okx import OkxHook

    hook = OkxHook()
    with pytest.raises(OkxInvalidInputError) as info:
        hook.get_all_token_balances(address, chain)
    assert info.value.field == "chains"
    with pytest.raises(OkxInvalidInputError):
        hook.get_total_value(address, [chain])
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    "address",
    [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # EIP-55 typo
        "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU8",  # base58check typo
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # bech32 typo
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",  # testnet
        TON_FRIENDLY[:-1] + "M",  # CRC16 typo
    ],
)
def test_a_mistyped_wallet_sends_no_request(okx_conn, requests_mock, address):
    from airflow_provider_okx.hooks.okx import OkxHook

    hook = OkxHook()
    for call in (
        lambda: hook.get_all_token_balances(address, [1]),
        lambda: hook.get_total_value(address, [1]),
        lambda: hook.get_token_balances(address, [(1, "")]),
    ):
        with pytest.raises(OkxInvalidInputError) as info:
            call()
        assert info.value.field == "address"
        assert info.value.value == address
    assert requests_mock.call_count == 0


def test_operators_and_sensors_refuse_a_mistyped_wallet_at_construction():
    from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
    from airflow_provider_okx.operators.report import OkxTreasuryReportOperator
    from airflow_provider_okx.sensors.balance import OkxBalanceSensor

    typo = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"
    builds = [
        lambda: OkxTokenBalancesOperator(task_id="b", address=typo, chains=1),
        lambda: OkxTokenBalancesOperator(task_id="b", address=[EVM_WALLET, typo], chains=1),
        lambda: OkxTreasuryReportOperator(task_id="r", wallets={"ops": typo}, chains=1, output_uri="/tmp/x"),
        lambda: OkxBalanceSensor(task_id="s", address=typo, chain=1, threshold="1", deferrable=False),
    ]
    for build in builds:
        with pytest.raises(OkxInvalidInputError) as info:
            build()
        assert "EIP-55" in info.value.reason


def test_a_mistyped_evm_token_contract_is_refused(okx_conn, requests_mock):
    from airflow_provider_okx.hooks.okx import OkxHook
    from airflow_provider_okx.sensors.balance import OkxBalanceSensor

    usdt = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
    typo = usdt[:-1] + "8"
    OkxBalanceSensor(
        task_id="s", address=EVM_WALLET, chain=1, token_address=usdt, threshold="1", deferrable=False
    )
    with pytest.raises(OkxInvalidInputError) as info:
        OkxBalanceSensor(
            task_id="s", address=EVM_WALLET, chain=1, token_address=typo, threshold="1", deferrable=False
        )
    assert info.value.field == "token_address"
    with pytest.raises(OkxInvalidInputError) as info:
        OkxHook().get_token_balances(EVM_WALLET, [(1, typo)])
    assert info.value.field == "tokens"
    assert requests_mock.call_count == 0


# --- identity and stored form -----------------------------------------------------------------

BTC_UPPER = "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"


@pytest.mark.parametrize(
    ("written", "key", "stored"),
    [
        (EVM_WALLET, EVM_WALLET.lower(), EVM_WALLET.lower()),
        ("0x" + "AB" * 32, "0x" + "ab" * 32, "0x" + "ab" * 32),
        (BTC_UPPER, BTC_UPPER.lower(), BTC_UPPER),
        ("LTC1QG42TKWUUXEFUTZXEZDKDEL39GFSTUAP288MFEA", "ltc1qg42tkwuuxefutzxezdkdel39gfstuap288mfea", None),
        (TON_RAW.upper(), TON_RAW, TON_RAW.upper()),
        (TON_FRIENDLY, TON_FRIENDLY, TON_FRIENDLY),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", None, None),
        ("TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7", None, None),
        ("9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM", None, None),
        (" btc-brc20-ordi ", "btc-brc20-ordi", "btc-brc20-ordi"),
    ],
)
def test_identity_and_stored_form_per_family(written, key, stored):
    """``address_key`` (matching, lineage names) folds case where the family ignores it;
    ``stored_address`` (what a person reads) folds only ``0x`` hex. ``None``: as written."""
    assert address_key(written) == (key or written.strip())
    assert stored_address(written) == (stored or written.strip())
    assert address_key(stored_address(written)) == address_key(written)


HOSTILE = [
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed\u200b",  # a zero-width space inside
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA\u0435d",  # a Cyrillic e
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA ed",  # a space inside
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA\ned",  # a newline inside
    "\uff10x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",  # a full-width 0
    "0x",
    "0x" + "0" * 39,
    "0x" + "0" * 65,
    "0x\u0661" * 20,  # Arabic-Indic digits
    "1" * 129,
    "1" * 100_000,
    "bc1" + "q" * 200,
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3t4",  # one lower-case letter
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4\x00",
    "\ud800",  # a lone surrogate
    "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM9WzD",  # 35+ bytes of base58
    "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtA",  # 30 bytes (one character fewer is 32: no checksum)
    "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7TLa2",
    "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjUl",  # l is not base58
    "EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2",  # 47 characters
    "EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N=",
    "EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xq+2N",  # url-safe and standard mixed
    "0:" + "g" * 64,
    "+0:" + "a" * 64,
    "00:" + "a" * 64,
    "-1:" + "a" * 63,
    "99999999999999999999999999999:" + "a" * 64,
    "javascript:alert(1)",
    '=HYPERLINK("http://x")',
]


@pytest.mark.parametrize("address", HOSTILE)
def test_hostile_addresses_are_refused_with_a_reason_naming_the_field(address):
    with pytest.raises(OkxInvalidInputError) as info:
        validate_address(address, "wallets")
    assert info.value.field == "wallets"
    assert info.value.reason
    assert len(str(info.value)) < 600


@pytest.mark.parametrize("address", [None, 0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED, b"0x00", ["0x"], 1.5])
def test_an_address_that_is_not_text_is_refused(address):
    with pytest.raises(OkxInvalidInputError) as info:
        validate_address(address)
    assert "as text" in info.value.reason
