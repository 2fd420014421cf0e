"""The pure core: OKX's protocol, typed results, chains and addresses, thresholds, reports.

Nothing here imports Airflow, an HTTP library or a database driver (``make lint`` checks it):
every rule about money, addresses and OKX's answers is testable without a network or a DAG.
"""
