"""Extra links: the block-explorer table, each link class, and the links Airflow serves."""

from __future__ import annotations

import importlib

import pytest

from airflow_provider_okx import get_provider_info
from airflow_provider_okx.glue.links import (
    EXPLORERS,
    BaseOperatorLink,
    OkxReportLink,
    OkxSensorTokenLink,
    OkxSensorWalletLink,
    report_url,
    token_url,
    wallet_url,
)
from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
from airflow_provider_okx.operators.report import OkxTreasuryReportOperator
from airflow_provider_okx.sensors.balance import OkxBalanceSensor
from tests.lineage_links_run import DAG_ID, DAGS, lineage_links_run

EVM = "0x28C6c06298d514Db089934071355E5743bf21d60"
SOLANA = "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"
BITCOIN = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
USDC_SOLANA = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"


def link_of(operator, chain: str) -> str:
    [link] = [link for link in operator.operator_extra_links if getattr(link, "chain", None) == chain]
    return link.get_link(operator, ti_key=None)


def test_balances_links_go_to_each_chain_explorer_for_evm_solana_and_bitcoin():
    evm = OkxTokenBalancesOperator(task_id="evm", address=EVM, chains="ethereum,base,arbitrum,bsc")
    sol = OkxTokenBalancesOperator(task_id="sol", address=SOLANA, chains="solana")
    btc = OkxTokenBalancesOperator(task_id="btc", address=BITCOIN, chains="bitcoin")
    assert link_of(evm, "1") == f"https://etherscan.io/address/{EVM}"
    assert link_of(evm, "8453") == f"https://basescan.org/address/{EVM}"
    assert link_of(evm, "42161") == f"https://arbiscan.io/address/{EVM}"
    assert link_of(evm, "56") == f"https://bscscan.com/address/{EVM}"
    assert link_of(sol, "501") == f"https://solscan.io/account/{SOLANA}"
    assert link_of(btc, "0") == f"https://mempool.space/address/{BITCOIN}"
    # A chain the task did not read, or another family's chain, gives no link.
    assert link_of(evm, "501") == ""
    assert link_of(evm, "137") == ""
    assert link_of(sol, "1") == ""


def test_a_task_over_several_wallets_links_the_first_wallet_of_each_family():
    op = OkxTokenBalancesOperator(task_id="mixed", address=[SOLANA, EVM], chains="solana,ethereum")
    assert link_of(op, "1") == f"https://etherscan.io/address/{EVM}"
    assert link_of(op, "501") == f"https://solscan.io/account/{SOLANA}"


def test_templated_fields_not_rendered_give_no_link_rather_than_a_broken_one():
    op = OkxTokenBalancesOperator(task_id="t", address="{{ params.wallet }}", chains="ethereum")
    assert link_of(op, "1") == ""


def test_chains_without_a_known_explorer_get_no_link():
    assert "25" not in EXPLORERS  # Cronos: no explorer in the table
    assert wallet_url(EVM, "25") is None
    assert wallet_url(EVM, "999999") is None
    op = OkxTokenBalancesOperator(task_id="t", address=EVM, chains="25")
    assert all(link.get_link(op, ti_key=None) == "" for link in op.operator_extra_links)


def test_every_explorer_link_has_a_distinct_name_and_xcom_key():
    links = OkxTokenBalancesOperator.operator_extra_links
    assert len({link.name for link in links}) == len(links) == len(EXPLORERS)
    assert len({link.xcom_key for link in links}) == len(links)
    assert {"Etherscan", "BscScan", "Basescan", "Arbiscan", "Polygonscan", "Optimistic Etherscan"} <= {
        link.name for link in links
    }
    assert {"Solscan", "Tronscan", "mempool.space"} <= {link.name for link in links}


@pytest.mark.parametrize(
    ("address", "chain", "token", "wallet", "token_page"),
    [
        (
            EVM,
            "ethereum",
            USDT,
            f"https://etherscan.io/address/{EVM}",
            f"https://etherscan.io/token/{USDT}?a={EVM}",
        ),
        (
            SOLANA,
            "solana",
            USDC_SOLANA,
            f"https://solscan.io/account/{SOLANA}",
            f"https://solscan.io/token/{USDC_SOLANA}",
        ),
        (BITCOIN, "bitcoin", "", f"https://mempool.space/address/{BITCOIN}", ""),
    ],
)
def test_sensor_links_the_watched_wallet_and_token(address, chain, token, wallet, token_page):
    sensor = OkxBalanceSensor(
        task_id="wait", address=address, chain=chain, token_address=token, threshold="1", deferrable=False
    )
    assert OkxSensorWalletLink().get_link(sensor, ti_key=None) == wallet
    assert OkxSensorTokenLink().get_link(sensor, ti_key=None) == token_page


def test_sensor_total_usd_over_several_chains_links_the_first_chain_with_an_explorer():
    sensor = OkxBalanceSensor(
        task_id="wait", address=EVM, chain="25,8453,1", metric="total_usd", threshold="1", deferrable=False
    )
    assert OkxSensorWalletLink().get_link(sensor, ti_key=None) == f"https://basescan.org/address/{EVM}"
    assert OkxSensorTokenLink().get_link(sensor, ti_key=None) == ""


@pytest.mark.parametrize(
    ("uri", "url"),
    [
        (
            "s3://treasury-reports/okx/2026-11-23/report.html",
            "https://s3.console.aws.amazon.com/s3/object/treasury-reports?prefix=okx/2026-11-23/report.html",
        ),
        (
            "gs://treasury-reports/okx/2026-11-23/report.html",
            "https://storage.cloud.google.com/treasury-reports/okx/2026-11-23/report.html",
        ),
        ("file:///srv/reports/2026-11-23/report.html", None),
        ("/srv/reports/2026-11-23/report.html", None),
        ("abfs://container/reports/report.html", None),
    ],
)
def test_report_url_per_store(uri, url):
    assert report_url(uri) == url


def test_report_link_reads_what_execute_published():
    op = OkxTreasuryReportOperator(task_id="r", wallets=[EVM], chains="1", output_uri="s3://bucket/okx")
    assert OkxReportLink().get_link(op, ti_key=None) == ""  # nothing published yet
    op.okx_report = {"files": {"report.html": "s3://bucket/okx/2026-11-23/report.html"}}
    assert OkxReportLink().get_link(op, ti_key=None) == (
        "https://s3.console.aws.amazon.com/s3/object/bucket?prefix=okx/2026-11-23/report.html"
    )


def test_token_url_is_none_for_the_native_coin_and_for_explorers_without_token_pages():
    assert token_url(EVM, "1", "") is None
    assert token_url(BITCOIN, "0", "some-rune") is None


def test_provider_registers_every_link_class_the_operators_use():
    registered = set(get_provider_info()["extra-links"])
    used = {
        f"{type(link).__module__}.{type(link).__qualname__}"
        for cls in (OkxTokenBalancesOperator, OkxBalanceSensor, OkxTreasuryReportOperator)
        for link in cls.operator_extra_links
    }
    assert used == registered
    for path in registered:
        module, name = path.rsplit(".", 1)
        assert issubclass(getattr(importlib.import_module(module), name), BaseOperatorLink)


# --- end to end: what the UI is served after a real run -------------------------------------------


def _served_links() -> dict[tuple[str, int], dict[str, str | None]]:
    """Every (task, map index) -> {link name: URL} as the webserver / API server computes it:
    the serialized operator's ``get_extra_links`` (Airflow 3: from the XCom the worker stored;
    Airflow 2: our link class, rebuilt from the provider's ``extra-links``)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:  # Airflow 3.3
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    try:  # Airflow 3.3
        from airflow.serialization.serialized_objects import DagSerialization as Serializer
    except ImportError:
        from airflow.serialization.serialized_objects import SerializedDAG as Serializer

    dag = DagBag(dag_folder=str(DAGS)).get_dag(DAG_ID)
    served = Serializer.from_dict(Serializer.to_dict(dag))
    with create_session() as session:
        run_id = session.scalar(
            select(DagRun.run_id).where(DagRun.dag_id == DAG_ID).order_by(DagRun.id.desc()).limit(1)
        )
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id)
        ).all()
        links = {}
        for ti in tis:
            task = served.get_task(ti.task_id)
            links[(ti.task_id, ti.map_index)] = {
                name: task.get_extra_links(ti, name) for name in task.extra_links
            }
    return links


def test_links_served_after_a_run_for_evm_solana_and_bitcoin_wallets():
    lineage_links_run()
    links = _served_links()
    evm, sol, btc = links[("balances", 0)], links[("balances", 1)], links[("balances", 2)]
    assert evm["Etherscan"] == f"https://etherscan.io/address/{EVM}"
    assert evm["Basescan"] == f"https://basescan.org/address/{EVM}"
    assert sol["Solscan"] == f"https://solscan.io/account/{SOLANA}"
    assert btc["mempool.space"] == f"https://mempool.space/address/{BITCOIN}"
    for served, kept in ((evm, {"Etherscan", "Basescan"}), (sol, {"Solscan"}), (btc, {"mempool.space"})):
        assert {name for name, url in served.items() if url} == kept
    wait = links[("wait", -1)]
    assert wait["Wallet on block explorer"] == f"https://etherscan.io/address/{EVM}"
    assert wait["Token on block explorer"] == f"https://etherscan.io/token/{USDT}?a={EVM}"
    # The report was published on the local disk: a browser cannot open file:// from the UI.
    assert not links[("report", -1)]["Treasury report"]
