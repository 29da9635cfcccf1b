-- Bank accounts, Vellet's settlement (omnibus) account per currency, and the
-- transactions the wallet asked for. Money is BIGINT minor units.

CREATE TABLE accounts (
    account_number  text        PRIMARY KEY CHECK (account_number ~ '^[0-9]{6,20}$'),
    holder_name     text        NOT NULL CHECK (length(holder_name) BETWEEN 1 AND 200),
    email           text        NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    currency        char(3)     NOT NULL,
    -- The backstop: no code path can take an account below zero.
    balance         bigint      NOT NULL CHECK (balance >= 0),
    -- What the account held when it was opened; the audit starts from it.
    opening_balance bigint      NOT NULL CHECK (opening_balance >= 0),
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Vellet's pooled account at the bank: deposits move money into it,
-- withdrawals out of it. It can never go negative either.
CREATE TABLE settlement (
    currency   char(3)     PRIMARY KEY,
    balance    bigint      NOT NULL DEFAULT 0 CHECK (balance >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE transactions (
    bank_txn_id    uuid        PRIMARY KEY,
    -- The wallet's transfer id: at most one bank transaction per transfer,
    -- which is what makes every retry harmless.
    transfer_id    uuid        NOT NULL UNIQUE,
    -- Not a foreign key: "no such account" is a recorded rejection too.
    account_number text        NOT NULL,
    direction      text        NOT NULL CHECK (direction IN ('to_wallet', 'from_wallet')),
    amount         bigint      NOT NULL CHECK (amount > 0),
    currency       char(3)     NOT NULL,
    status         text        NOT NULL CHECK (status IN ('succeeded', 'rejected')),
    reason         text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'rejected') = (reason IS NOT NULL))
);

CREATE INDEX transactions_account ON transactions (account_number, created_at);
