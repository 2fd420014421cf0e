"""The roll-forward's rules, pure (no Airflow, no HTTP): fees, failed and pending transactions,
a token that came and went, not reconcilable wallets, control totals and the CSV."""

from __future__ import annotations

import csv
import datetime
import io
import json
from decimal import Decimal
from fractions import Fraction

import pytest

from airflow_provider_okx.core.models import TokenBalance, Transaction
from airflow_provider_okx.core.report.roll_forward import (
    CSV_COLUMNS,
    NOT_RECONCILABLE,
    RECONCILED,
    UNEXPLAINED,
    Holding,
    RollForwardInput,
    RollForwardWindow,
    holdings_from_csv,
    roll_forward,
    write_csv,
)

UTC = datetime.timezone.utc
T0 = datetime.datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
T1 = datetime.datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
MID = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WALLET = "0x" + "ab" * 20
OTHER = "0x" + "cd" * 20
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
PEPE = "0x6982508145454ce325ddba47ba4d7b7a0e6f5b1b"


def balance(
    token: str, amount: str, symbol: str = "", price: str = "0", address: str = WALLET, chain: str = "1"
) -> TokenBalance:
    return TokenBalance(
        chain_index=chain,
        token_address=token,
        address=address,
        symbol=symbol or ("ETH" if not token else "TOK"),
        balance=Decimal(amount),
        raw_balance=None,
        token_price=Decimal(price),
        token_type=None,
        transfer_amount=None,
        available_amount=None,
        is_risk_token=False,
    )


def tx(
    tx_hash: str,
    direction: str,
    amount: str,
    *,
    token: str = "",
    fee: str = "0",
    status: str = "success",
    when: datetime.datetime = MID,
    sender: str | None = None,
    item_type: str | None = None,
) -> Transaction:
    senders = (sender,) if sender else ((WALLET,) if direction in ("out", "self") else (OTHER,))
    receivers = (WALLET,) if direction in ("in", "self") else (OTHER,)
    return Transaction(
        chain_index="1",
        tx_hash=tx_hash,
        tx_time=when,
        address=WALLET,
        token_address=token,
        symbol="ETH" if not token else "TOK",
        amount=Decimal(amount),
        tx_fee=Decimal(fee),
        status=status,
        direction=direction,
        from_addresses=senders,
        to_addresses=receivers,
        item_type=item_type or ("0" if not token else "2"),
    )


def run(opening, closing, transactions, **kwargs):
    return roll_forward(
        RollForwardInput(
            window=RollForwardWindow(T0, T1, "2026-11-30"),
            wallets=kwargs.pop("wallets", {"treasury": WALLET}),
            chains=kwargs.pop("chains", ["1"]),
            opening=opening,
            closing=closing,
            transactions=transactions,
            **kwargs,
        )
    )


def rows_by_token(section):
    return {row["token_address"]: row for row in section["rows"]}


def test_reconciles_exactly_with_inflow_outflow_and_fee():
    opening = [balance("", "10"), balance(USDC, "1000.000001")]
    transactions = [
        tx("0x1", "in", "2.5"),
        tx("0x2", "out", "0.000000000000000001", fee="0.0021"),
        tx("0x3", "out", "250.5", token=USDC, fee="0.0003"),
    ]
    closing = [balance("", "12.497599999999999999"), balance(USDC, "749.500001")]
    section = run(opening, closing, transactions)
    eth, usdc = rows_by_token(section)[""], rows_by_token(section)[USDC]
    assert eth["inflow"] == "2.5" and eth["outflow"] == "0.000000000000000001"
    assert eth["fees"] == "0.0024"  # both sent transactions' fees, on the native coin
    assert eth["expected_closing"] == "12.497599999999999999" and eth["unexplained"] == "0"
    assert (usdc["outflow"], usdc["fees"], usdc["unexplained"]) == ("250.5", "0", "0")
    assert {row["status"] for row in section["rows"]} == {RECONCILED}
    assert section["unexplained_count"] == 0 and section["fee_transactions"] == 2


def test_failed_transaction_moves_only_its_fee():
    section = run(
        [balance("", "1")], [balance("", "0.99")], [tx("0xf", "out", "0.5", fee="0.01", status="fail")]
    )
    eth = rows_by_token(section)[""]
    assert (eth["outflow"], eth["fees"], eth["unexplained"]) == ("0", "0.01", "0")
    assert section["failed_records"] == 1


def test_pending_transaction_moves_nothing():
    section = run(
        [balance("", "1")], [balance("", "1")], [tx("0xp", "out", "0.5", fee="0.01", status="pending")]
    )
    eth = rows_by_token(section)[""]
    assert (eth["outflow"], eth["fees"], eth["unexplained"]) == ("0", "0", "0")
    assert section["pending_records"] == 1


def test_fee_counts_once_per_hash_and_only_when_the_wallet_sent_it():
    # A swap: two records of one hash, each repeating the whole fee; and a received transfer
    # that shows the sender's fee.
    transactions = [
        tx("0xswap", "out", "1", fee="0.004"),
        tx("0xswap", "in", "3000", token=USDC, fee="0.004", sender="0x" + "99" * 20),
        tx("0xgift", "in", "5", token=USDC, fee="0.5"),
    ]
    opening = [balance("", "2")]
    closing = [balance("", "0.996"), balance(USDC, "3005")]
    section = run(opening, closing, transactions)
    rows = rows_by_token(section)
    assert rows[""]["fees"] == "0.004"  # once, not twice, and not the gift's fee
    assert rows[""]["unexplained"] == rows[USDC]["unexplained"] == "0"
    assert section["fee_transactions"] == 1


def test_fee_of_a_hash_where_only_one_record_carries_it():
    transactions = [
        tx("0xs", "in", "10", token=USDC, sender="0x" + "99" * 20),
        tx("0xs", "out", "1", fee="0.3"),
    ]
    section = run([balance("", "2")], [balance("", "0.7"), balance(USDC, "10")], transactions)
    assert rows_by_token(section)[""]["fees"] == "0.3"


def test_self_transfer_moves_only_its_fee():
    section = run([balance("", "1")], [balance("", "0.9")], [tx("0xself", "self", "0.4", fee="0.1")])
    eth = rows_by_token(section)[""]
    assert (eth["inflow"], eth["outflow"], eth["fees"], eth["unexplained"]) == ("0", "0", "0.1", "0")


def test_a_token_that_came_and_went_between_the_snapshots_gets_its_row():
    transactions = [
        tx("0xa", "in", "1000000", token=PEPE),
        tx("0xb", "out", "1000000", token=PEPE, fee="0.01"),
    ]
    section = run([balance("", "1")], [balance("", "0.99")], transactions)
    pepe = rows_by_token(section)[PEPE]
    assert (pepe["opening"], pepe["inflow"], pepe["outflow"], pepe["closing"]) == (
        "0",
        "1000000",
        "1000000",
        "0",
    )
    assert pepe["status"] == RECONCILED and pepe["records"] == 2


def test_a_hidden_transaction_shows_exactly_as_unexplained_and_first():
    # The wallet received 7.25 USDC that the history does not show.
    opening = [balance("", "1", price="3000"), balance(USDC, "100", price="1.0001")]
    closing = [balance("", "1", price="3000"), balance(USDC, "107.25", price="1.0001")]
    section = run(opening, closing, [])
    first = section["rows"][0]
    assert (first["token_address"], first["status"], first["unexplained"]) == (USDC, UNEXPLAINED, "7.25")
    assert first["unexplained_usd"] == "7.250725"  # at the closing price, exact
    assert section["unexplained_count"] == 1 and section["reconciled_count"] == 1


def test_transactions_outside_the_window_and_repeats_do_not_count():
    # [opening, closing): consecutive roll-forwards tile the history (as the hook's windows do)
    transactions = [
        tx("0xedge", "in", "5", when=T0),  # at the opening snapshot: counts
        tx("0xlate", "in", "5", when=T1),  # at the closing snapshot: the next roll-forward's
        tx("0xearly", "in", "5", when=T0 - datetime.timedelta(milliseconds=1)),
        tx("0xin", "in", "2"),
        tx("0xin", "in", "2"),  # OKX repeating a record: once
    ]
    section = run([balance("", "1")], [balance("", "8")], transactions)
    assert rows_by_token(section)[""]["unexplained"] == "0"
    assert section["outside_window"] == 2 and section["records"] == 2


def test_not_reconcilable_is_never_zero():
    refused = {(WALLET, "*"): "OKX refused the window"}
    section = run([balance("", "1")], [balance("", "5")], [], not_reconcilable=refused)
    (row,) = section["rows"]
    assert row["status"] == NOT_RECONCILABLE and row["reason"] == "OKX refused the window"
    for name in ("inflow", "outflow", "fees", "expected_closing", "unexplained"):
        assert row[name] is None
    assert section["not_reconcilable_count"] == 1
    assert section["totals"] == []  # no made-up sums


def test_not_reconcilable_pair_shows_even_with_nothing_held():
    section = run([], [], [], not_reconcilable={(WALLET, "1"): "history beyond OKX's 180 days"})
    assert [(r["chain_index"], r["status"]) for r in section["rows"]] == [("1", NOT_RECONCILABLE)]


def test_a_chain_queried_only_now_is_not_reconcilable():
    section = run([], [balance("", "1")], [], chains=[])
    assert section["rows"][0]["status"] == NOT_RECONCILABLE


def test_control_totals_sum_every_wallet_and_obey_the_identity():
    opening = [balance("", "1"), balance("", "2", address=OTHER)]
    closing = [balance("", "1.5"), balance("", "1.9", address=OTHER)]
    transactions = [tx("0x1", "in", "0.5")]
    section = run(opening, closing, transactions, wallets={"a": WALLET, "b": OTHER})
    (total,) = section["totals"]
    assert total["row_count"] == 2
    assert total["opening"] == "3" and total["closing"] == "3.4" and total["inflow"] == "0.5"
    assert total["unexplained"] == "-0.1"  # OTHER lost 0.1 that no transaction explains
    assert Fraction(total["expected_closing"]) == (
        Fraction(total["opening"])
        + Fraction(total["inflow"])
        - Fraction(total["outflow"])
        - Fraction(total["fees"])
    )


def test_window_must_be_aware_and_ordered():
    with pytest.raises(ValueError, match="aware"):
        RollForwardWindow(T0.replace(tzinfo=None), T1)
    with pytest.raises(ValueError, match="before"):
        RollForwardWindow(T1, T0)


def test_csv_is_exact_and_safe_and_reads_back_opening_balances():
    section = run([balance("", "1")], [balance("", "1.000000000000000001")], [])
    out = io.StringIO()
    write_csv(section, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["unexplained"] == "0.000000000000000001"
    # a previous report's balances.csv (as csv_render writes it) reads back exactly
    text = "address,chain_index,token_address,symbol,balance\n" + f"{WALLET},1,,'=HYPERLINK(1),0.1\n"
    (holding,) = holdings_from_csv(io.StringIO(text))
    assert holding == Holding(WALLET, "1", "", "=HYPERLINK(1)", Decimal("0.1"))
    with pytest.raises(ValueError, match="line 2: balance"):
        list(holdings_from_csv(io.StringIO("address,chain_index,token_address,symbol,balance\na,1,,X,\n")))


def test_previous_balances_csv_is_read_by_column_name_whatever_its_shape():
    text = (
        "balance,extra,symbol,token_address,chain_index,address\n"
        "1.5,x,ETH,,1," + WALLET + "\n"
        "\n"  # a blank line is skipped
        '2,y,"a,b",' + USDC + ",1," + WALLET + "\n"
        "3,z,SHORT\n"  # cells missing at the end read as empty texts
    )
    holdings = list(holdings_from_csv(io.StringIO(text, newline="")))
    assert holdings == [
        Holding(WALLET, "1", "", "ETH", Decimal("1.5")),
        Holding(WALLET, "1", USDC, "a,b", Decimal("2")),
        Holding("", "", "", "SHORT", Decimal("3")),
    ]
    assert holdings[0].address is holdings[1].address  # a repeated text is one object
    with pytest.raises(ValueError, match="line 2: no column 'balance'"):
        list(holdings_from_csv(io.StringIO("address,chain_index,token_address,symbol\na,1,,X\n")))
    assert list(holdings_from_csv(io.StringIO(""))) == []
    assert list(holdings_from_csv(io.StringIO("address,chain_index,token_address,symbol\n"))) == []


def test_rows_are_a_lazy_sequence_of_dicts_with_views_for_slices():
    opening = [balance("", "1"), balance(USDC, "100", price="1")]
    closing = [balance("", "1"), balance(USDC, "107.25", price="1"), balance(PEPE, "5", price="0")]
    section = run(opening, closing, [])
    rows = section["rows"]
    as_list = list(rows)
    assert len(rows) == 3 and rows == as_list and rows[1:] == as_list[1:]
    assert [row["status"] for row in rows] == [UNEXPLAINED, UNEXPLAINED, RECONCILED]
    assert rows[0]["unexplained"] == "7.25" and rows[0]["unexplained_usd"] == "7.25"  # priced first
    assert rows[-1] == as_list[-1] and tuple(rows[0]) == CSV_COLUMNS
    view = rows[1:]
    assert len(view) == 2 and list(view) == as_list[1:] and "2 rows" in repr(view)
    with pytest.raises(TypeError):
        hash(rows)


def test_rows_write_themselves_to_the_bytes_of_the_standard_encoder_and_csv_module():
    """summary.json's and roll_forward.csv's rows are written from the entries, not the dicts:
    the same JSON as ``json.dumps`` of the dicts, and a CSV that reads back to the dicts (text
    cells spreadsheet-safe), over hostile labels and symbols, unpriced and not reconcilable
    rows."""
    from airflow_provider_okx.core.report.json_render import render_summary_json, write_summary_json
    from airflow_provider_okx.core.text import spreadsheet_safe

    hostile = ['=cmd|"/c calc"!A0', 'caf\u00e9 \u2028 "q"', "tab\there", "cr\rlf\n", "a,b", "\ud800x"]
    wallets = {label: f"0x{n + 1:040x}" for n, label in enumerate(hostile)}
    opening, closing = [], []
    for n, address in enumerate(wallets.values()):
        symbol = hostile[(n + 1) % len(hostile)]
        opening.append(balance(USDC, "10", symbol=symbol, price="1", address=address))
        closing.append(
            balance(USDC, str(10 + n), symbol=symbol, price="1" if n % 2 else "0", address=address)
        )
        closing.append(balance("", "1.5", address=address))
        opening.append(balance("", "1.5", address=address))
    refused = {(wallets[hostile[2]], "*"): 'OKX refused: "50050" <b>'}
    section = run(opening, closing, [], wallets=wallets, not_reconcilable=refused)
    statuses = {row["status"] for row in section["rows"]}
    assert statuses == {RECONCILED, UNEXPLAINED, NOT_RECONCILABLE}
    summary = {"schema_version": 2, "roll_forward": section, "after": [1, {"a": None}]}
    out = io.StringIO()
    write_summary_json(summary, out)
    assert out.getvalue() == render_summary_json(summary)
    assert json.loads(out.getvalue())["roll_forward"]["rows"] == list(section["rows"])
    out = io.StringIO()
    write_csv(section, out)
    read = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert len(read) == len(section["rows"])
    for got, row in zip(read, section["rows"], strict=True):
        for name in CSV_COLUMNS:
            value = row[name]
            if value is None:
                assert got[name] == ""
            elif name in {
                "wallet_label",
                "address",
                "chain_name",
                "token_address",
                "symbol",
                "status",
                "reason",
            }:
                assert got[name] == spreadsheet_safe(value)
            else:
                assert got[name] == str(value)
    # rows read back as dicts (a summary.json's) are written to the same CSV
    again = io.StringIO()
    write_csv({"rows": list(section["rows"])}, again)
    assert again.getvalue() == out.getvalue()


def test_page_shows_unexplained_differences_first_and_prominent():
    import xml.etree.ElementTree as ET

    from airflow_provider_okx.core.report import Snapshot, build_summary, render_html
    from airflow_provider_okx.core.report.valuation import disclose

    opening = [balance("", "1", price="3000"), balance(USDC, "100", price="1")]
    closing = [balance("", "1", price="3000"), balance(USDC, "107.25", price="1")]
    snapshot = Snapshot("2026-12-01", "2026-12-01T00:00:00.000Z", {"treasury": WALLET}, ["1"], True, closing)
    summary = build_summary(snapshot)
    disclose(summary, snapshot.prices)
    summary["roll_forward"] = run(opening, closing, [])
    html = render_html(summary)
    ET.fromstring(html[html.index("<html") :])  # still well-formed
    body = html[html.index("<body>") :]
    assert body.index("Roll-forward: differences to explain") < body.index("<h2>Trend</h2>")
    assert '<p class="warn">1 balance changed by more or less than the transactions explain' in body
    differences = body[body.index("differences to explain") : body.index("<h3>Reconciled</h3>")]
    assert 'class="flag"' in differences and 'title="7.25 (7.25 USD)"' in differences
    assert "Valued at OKX&#39;s live price" in body or "Valued at OKX's live price" in body
    summary["roll_forward"] = None
    assert "No previous report with balances to roll forward from" in render_html(summary)


def _random_input(seed: int) -> RollForwardInput:
    """A random roll-forward: labels that sort and clash oddly, several chains and tokens,
    balances that stay, move, come and go, transactions of every status and direction (some
    outside the window, repeated hashes), and pairs that cannot be reconciled."""
    import random

    rng = random.Random(seed)
    wallets = {}
    for n in range(rng.randint(1, 5)):
        label = rng.choice(["", f"w{n}", f'q"{n}', f"=x{n}", f"\u00fc{n}", f"a,b{n}", "Z"])
        address = f"0x{n + 0xABC:040x}"
        wallets[label or address] = address
    chains = rng.sample(["1", "56", "10", "137"], rng.randint(1, 4))
    tokens = [""] + [f"0x{t + 0x1000:040x}" for t in range(rng.randint(1, 6))]
    symbols = {token: rng.choice(["ETH", "USDC", "=BAD", "a,b", "", "TOK"]) for token in tokens}
    amounts = ["0", "1", "1.50", "123.456789012345678", "0.000000000000000001", "99999999.9"]
    opening, closing, transactions = [], [], []
    for address in [*wallets.values(), "0x" + "ff" * 20]:  # the last is not a wallet of the report
        for chain in chains:
            for token in tokens:
                held = rng.random()
                value = rng.choice(amounts)
                if held < 0.6:
                    opening.append(Holding(address, chain, token, symbols[token], Decimal(value)))
                if held < 0.5 or held > 0.8:
                    price = rng.choice(["0", "2.5", "0.1"])
                    closing_value = value if held < 0.4 else rng.choice(amounts)
                    closing.append(balance(token, closing_value, symbols[token], price, address, chain))
            for _ in range(rng.randint(0, 4)):
                token = rng.choice(tokens)
                direction = rng.choice(["in", "out", "self"])
                transactions.append(
                    Transaction(
                        chain_index=chain,
                        tx_hash=f"0x{rng.randint(0, 5):064x}",
                        tx_time=rng.choice([T0, MID, T1, T0 - datetime.timedelta(seconds=1)]),
                        address=address,
                        token_address=token,
                        symbol=symbols[token],
                        amount=Decimal(rng.choice(amounts)),
                        tx_fee=Decimal(rng.choice(["0", "0.001"])),
                        status=rng.choice(["success", "success", "fail", "pending"]),
                        direction=direction,
                        from_addresses=(address,) if direction != "in" else (OTHER,),
                        to_addresses=(OTHER,) if direction == "out" else (address,),
                        item_type="0" if not token else "2",
                    )
                )
    refused = {}
    if rng.random() < 0.3:
        refused[(next(iter(wallets.values())), "*")] = "too old"
    if rng.random() < 0.3:
        refused[(list(wallets.values())[-1], chains[0])] = "refused"
    return RollForwardInput(
        window=RollForwardWindow(T0, T1, "2026-11-30"),
        wallets=wallets,
        chains=chains[: max(1, len(chains) - rng.randint(0, 1))],
        opening=opening,
        closing=closing,
        transactions=transactions,
        not_reconcilable=refused,
    )


@pytest.mark.parametrize("seed", range(40))
def test_random_roll_forwards_keep_their_order_identities_and_bytes(seed: int) -> None:
    from airflow_provider_okx.core.chains import address_key
    from airflow_provider_okx.core.report.json_render import render_summary_json, write_summary_json
    from airflow_provider_okx.core.report.snapshot import chain_order

    section = roll_forward(_random_input(seed))
    rows = list(section["rows"])
    statuses = [row["status"] for row in rows]
    assert section["row_count"] == len(rows)
    assert statuses.count(UNEXPLAINED) == section["unexplained_count"]
    assert statuses.count(NOT_RECONCILABLE) == section["not_reconcilable_count"]
    assert statuses.count(RECONCILED) == section["reconciled_count"]
    # the order: unexplained (largest first), then not reconcilable, then reconciled
    rank = {UNEXPLAINED: 0, NOT_RECONCILABLE: 1, RECONCILED: 2}
    assert [rank[s] for s in statuses] == sorted(rank[s] for s in statuses)

    def tie(row):
        return (row["wallet_label"], chain_order(row["chain_index"]), row["symbol"], row["token_address"])

    differences = [row for row in rows if row["status"] == UNEXPLAINED]
    sizes = [abs(Fraction(row["unexplained_usd"] or row["unexplained"])) for row in differences]
    assert sizes == sorted(sizes, reverse=True)
    for status in (NOT_RECONCILABLE, RECONCILED):
        keys = [tie(row) for row in rows if row["status"] == status]
        assert keys == sorted(keys)
    # each row's identity, exactly; one row per (wallet, chain, token)
    seen = set()
    for row in rows:
        key = (row["address"], row["chain_index"], address_key(row["token_address"]))
        assert key not in seen
        seen.add(key)
        if row["status"] == NOT_RECONCILABLE:
            assert row["inflow"] is None and row["unexplained"] is None and row["reason"]
            continue
        flows = {name: Fraction(row[name]) for name in ("opening", "inflow", "outflow", "fees", "closing")}
        expected = flows["opening"] + flows["inflow"] - flows["outflow"] - flows["fees"]
        assert Fraction(row["expected_closing"]) == expected
        assert Fraction(row["unexplained"]) == flows["closing"] - expected
        assert (row["status"] == RECONCILED) == (row["unexplained"] == "0")
    for total in section["totals"]:
        summed = [
            r
            for r in rows
            if r["status"] != NOT_RECONCILABLE
            and r["chain_index"] == total["chain_index"]
            and address_key(r["token_address"]) == address_key(total["token_address"])
        ]
        assert total["row_count"] == len(summed)
        for name in ("opening", "inflow", "outflow", "fees", "expected_closing", "closing", "unexplained"):
            assert Fraction(total[name]) == sum((Fraction(r[name]) for r in summed), Fraction(0))
    # the rows write themselves to the reference bytes
    summary = {"roll_forward": section}
    out = io.StringIO()
    write_summary_json(summary, out)
    assert out.getvalue() == render_summary_json(summary)
    fast, from_dicts = io.StringIO(), io.StringIO()
    write_csv(section, fast)
    write_csv({"rows": rows}, from_dicts)
    assert fast.getvalue() == from_dicts.getvalue()
