-- The wallet's double-entry ledger. Money is BIGINT minor units.
--
-- Sign convention: an account's balance is the sum of its credits minus the
-- sum of its debits. A user's positive balance is what the wallet owes them;
-- the per-currency bank settlement account goes negative by exactly what the
-- bank holds for wallet users. Every transfer's entries balance, so per
-- currency all balances sum to zero (see store.INVARIANT_SQL).
--
-- Two-phase transfers (deposits and withdrawals) use ``pending``: a
-- withdrawal reserves its amount (pending += x, available = balance -
-- pending falls), then posts (balance -= x, pending -= x, entries written)
-- or voids (pending -= x). Entries are written only when money really moves.

CREATE TABLE users (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_number text        NOT NULL UNIQUE CHECK (account_number ~ '^[0-9]{6,20}$'),
    -- Name, e-mail and currency come from the bank at sign-up, never from the form.
    name           text        NOT NULL,
    email          text        NOT NULL,
    currency       char(3)     NOT NULL,
    password_hash  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ledger_accounts (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Exactly one of: a user's wallet, or a system account such as
    -- 'bank_settlement' (money that is at the bank or on its way).
    user_id     bigint      REFERENCES users (id),
    system_code text,
    currency    char(3)     NOT NULL,
    balance     bigint      NOT NULL DEFAULT 0,
    pending     bigint      NOT NULL DEFAULT 0 CHECK (pending >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((user_id IS NULL) <> (system_code IS NULL)),
    -- The backstop behind every conditional debit: a user can never spend
    -- more than they hold, reservations included.
    CHECK (user_id IS NULL OR balance - pending >= 0)
) WITH (fillfactor = 50);  -- room on each page, so balance updates stay HOT
CREATE UNIQUE INDEX ledger_accounts_user ON ledger_accounts (user_id, currency)
    WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_accounts_system ON ledger_accounts (system_code, currency)
    WHERE system_code IS NOT NULL;

CREATE TABLE transfers (
    id                uuid        PRIMARY KEY,
    kind              text        NOT NULL CHECK (kind IN ('p2p', 'deposit', 'withdrawal')),
    state             text        NOT NULL
                      CHECK (state IN ('pending', 'queued', 'posted', 'voided', 'failed')),
    amount            bigint      NOT NULL CHECK (amount > 0 AND amount <= 1000000000000000),
    currency          char(3)     NOT NULL,
    -- The two ledger legs: money leaves debit_account and reaches credit_account
    -- when (and only when) the transfer posts.
    debit_account_id  bigint      NOT NULL REFERENCES ledger_accounts (id),
    credit_account_id bigint      NOT NULL REFERENCES ledger_accounts (id),
    -- The users involved (NULL for the bank's side) and their account numbers
    -- as the API shows them.
    from_user_id      bigint      REFERENCES users (id),
    to_user_id        bigint      REFERENCES users (id),
    from_account      text,
    to_account        text,
    note              text        CHECK (length(note) <= 140),
    failure_reason    text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (debit_account_id <> credit_account_id),
    CHECK (kind <> 'p2p' OR (from_user_id IS NOT NULL AND to_user_id IS NOT NULL))
);
-- History is "my transfers, newest first", keyset-paginated on (created_at, id).
CREATE INDEX transfers_from_history ON transfers (from_user_id, created_at DESC, id DESC)
    WHERE from_user_id IS NOT NULL;
CREATE INDEX transfers_to_history ON transfers (to_user_id, created_at DESC, id DESC)
    WHERE to_user_id IS NOT NULL;
CREATE INDEX transfers_unfinished ON transfers (state, updated_at)
    WHERE state IN ('pending', 'queued');

CREATE TABLE entries (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transfer_id uuid        NOT NULL REFERENCES transfers (id),
    account_id  bigint      NOT NULL REFERENCES ledger_accounts (id),
    side        text        NOT NULL CHECK (side IN ('debit', 'credit')),
    amount      bigint      NOT NULL CHECK (amount > 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Only what is read: entries by transfer. Audits scan the whole table anyway,
-- and every index more is one more write on the hottest path.
CREATE INDEX entries_transfer ON entries (transfer_id);

-- The ledger is append-only: a mistake is corrected by a new transfer,
-- never by editing history.
CREATE FUNCTION entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION entries_append_only();

CREATE TABLE idempotency_keys (
    -- Keys are scoped per user: two users may pick the same key.
    user_id         bigint      NOT NULL REFERENCES users (id),
    key             text        NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    -- sha256 of the normalised request; the same key with another payload is refused.
    fingerprint     text        NOT NULL,
    -- in_flight: a two-phase request is still running (a repeat gets 409);
    -- done: response_status/response_body are replayed to every repeat.
    state           text        NOT NULL CHECK (state IN ('in_flight', 'done')),
    response_status integer,
    response_body   jsonb,
    transfer_id     uuid        REFERENCES transfers (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- NULL: remembered forever.
    expires_at      timestamptz,
    PRIMARY KEY (user_id, key),
    CHECK (state = 'in_flight' OR (response_status IS NOT NULL AND response_body IS NOT NULL))
);

-- Transactional outbox: the event row commits with the transfer, and a relay
-- publishes it to Redis and deletes it afterwards, so a crash between COMMIT
-- and XADD loses nothing (the notifier de-duplicates on event_id if a row
-- goes out twice). The transfer row stays the permanent record; this table
-- only holds what is not yet on the stream.
CREATE TABLE outbox (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- A fresh uuid4 per event (its uniqueness is the generator's, not an index's).
    event_id    uuid        NOT NULL,
    transfer_id uuid        NOT NULL REFERENCES transfers (id),
    state       text        NOT NULL CHECK (state IN ('posted', 'voided', 'failed')),
    -- Each party's available balance right after the transfer, by role
    -- ("sender", "recipient" or "owner"), in minor units.
    available   jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
