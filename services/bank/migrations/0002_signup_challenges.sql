-- Sign-up challenges: the proof that whoever signs an account up to a wallet
-- reads the e-mail the bank holds for it. One live challenge per account
-- number (a new one replaces the old); the code itself is never stored,
-- only an HMAC of it under a key the database does not hold, so a copy of
-- this table cannot be turned back into codes. Rows exist for unknown
-- account numbers too (nobody is mailed their code), so creating a
-- challenge costs the same whether or not the account exists.

CREATE TABLE signup_challenges (
    account_number text        PRIMARY KEY CHECK (account_number ~ '^[0-9]{6,20}$'),
    challenge_id   uuid        NOT NULL,
    code_hash      bytea       NOT NULL CHECK (length(code_hash) = 32),
    attempts       integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX signup_challenges_expiry ON signup_challenges (expires_at);
