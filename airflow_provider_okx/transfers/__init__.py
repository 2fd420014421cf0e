"""Transfers: OKX balances into other systems (SQL tables through common.sql)."""
