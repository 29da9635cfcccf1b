"""The books comparison runs on the same wired bank and wallet as the
deposit/withdrawal tests: their fixtures, not a copy of them."""

from tests.wallet.banking.conftest import bank, bank_db, http, wallet, wallet_dsn

__all__ = ["bank", "bank_db", "http", "wallet", "wallet_dsn"]
