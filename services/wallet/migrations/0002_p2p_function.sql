-- One P2P transfer, with its idempotency key, as ONE server-side call.
--
-- Why a function: the transfer must be one transaction (conditional debit,
-- credit, transfer row, balanced entries, idempotency record, outbox row),
-- and doing it in one round trip instead of a dozen keeps latency and
-- connection hold time low under load. Called in autocommit, the call IS the
-- transaction: an error anywhere rolls back everything.
--
-- Concurrency:
-- * a second request with the same key while the first runs cannot take the
--   key's advisory lock and gets 'in_flight' (409); after the first commits,
--   a repeat finds the stored response and replays it;
-- * both accounts are locked in id order before they change, so A->B and
--   B->A at once cannot deadlock;
-- * the debit is conditional (balance - pending >= amount) and the CHECK
--   constraint backs it: no read-check-write, no overdraft.
--
-- p_from_acct is the sender's account number, from their signed session.
-- p_success is the response body the caller rendered (the sender's account
-- number and the timestamps are added here); p_refusals maps each refusal code
-- to its {status, body}. Refusals are stored under the key too, so a repeat
-- always gets the first answer.

CREATE FUNCTION wallet_ts(ts timestamptz) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE FUNCTION wallet_p2p(
    p_user_id     bigint,
    p_from_acct   text,
    p_key         text,
    p_fingerprint text,
    p_expires_at  timestamptz,
    p_transfer_id uuid,
    p_event_id    uuid,
    p_to_account  text,
    p_amount      bigint,
    p_currency    text,
    p_note        text,
    p_success     jsonb,
    p_refusals    jsonb,
    OUT outcome   text,
    OUT status    integer,
    OUT body      jsonb
) LANGUAGE plpgsql AS $$
DECLARE
    v_key        idempotency_keys%ROWTYPE;
    v_from_id    bigint;
    v_to_user    bigint;
    v_to_acct    bigint;
    v_from_avail bigint;
    v_refusal    text;
    v_now        text := wallet_ts(now());
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(p_key, p_user_id)) THEN
        outcome := 'in_flight';
        status := 409;
        RETURN;
    END IF;

    SELECT * INTO v_key FROM idempotency_keys k WHERE k.user_id = p_user_id AND k.key = p_key;
    IF FOUND THEN
        IF v_key.expires_at IS NOT NULL AND v_key.expires_at <= now() THEN
            DELETE FROM idempotency_keys k WHERE k.user_id = p_user_id AND k.key = p_key;
        ELSIF v_key.fingerprint <> p_fingerprint THEN
            outcome := 'mismatch';
            status := 422;
            RETURN;
        ELSIF v_key.state = 'in_flight' THEN
            outcome := 'in_flight';
            status := 409;
            RETURN;
        ELSE
            outcome := 'replayed';
            status := v_key.response_status;
            body := v_key.response_body;
            RETURN;
        END IF;
    END IF;

    SELECT (SELECT a.id FROM ledger_accounts a
             WHERE a.user_id = p_user_id AND a.currency = p_currency),
           u.id,
           (SELECT a.id FROM ledger_accounts a WHERE a.user_id = u.id AND a.currency = p_currency)
        INTO v_from_id, v_to_user, v_to_acct
        FROM (SELECT 1) AS one
        LEFT JOIN users u ON u.account_number = p_to_account;

    IF v_to_user IS NULL THEN
        v_refusal := 'unknown_recipient';
    ELSIF v_to_user = p_user_id THEN
        v_refusal := 'same_account';
    ELSIF v_from_id IS NULL OR v_to_acct IS NULL THEN
        v_refusal := 'currency_mismatch';
    ELSE
        PERFORM 1 FROM ledger_accounts a WHERE a.id IN (v_from_id, v_to_acct)
            ORDER BY a.id FOR UPDATE;
        UPDATE ledger_accounts a
            SET balance = a.balance - p_amount, updated_at = now()
            WHERE a.id = v_from_id AND a.balance - a.pending >= p_amount
            RETURNING a.balance - a.pending INTO v_from_avail;
        IF NOT FOUND THEN
            v_refusal := 'insufficient_funds';
        END IF;
    END IF;

    IF v_refusal IS NOT NULL THEN
        outcome := v_refusal;
        status := (p_refusals -> v_refusal ->> 'status')::integer;
        body := p_refusals -> v_refusal -> 'body';
        INSERT INTO idempotency_keys
            (user_id, key, fingerprint, state, response_status, response_body, expires_at)
            VALUES (p_user_id, p_key, p_fingerprint, 'done', status, body, p_expires_at);
        RETURN;
    END IF;

    -- The credit and the four new rows in ONE statement: each PL/pgSQL
    -- statement is its own executor run, and this is the hottest path.
    -- (Foreign keys are checked at the end of the statement, after every part.)
    body := p_success || jsonb_build_object(
        'from_account', p_from_acct, 'created_at', v_now, 'updated_at', v_now);
    WITH credit AS (
        UPDATE ledger_accounts a
            SET balance = a.balance + p_amount, updated_at = now()
            WHERE a.id = v_to_acct
            RETURNING a.balance - a.pending AS available
    ), transfer AS (
        INSERT INTO transfers (id, kind, state, amount, currency, debit_account_id,
                               credit_account_id, from_user_id, to_user_id, from_account,
                               to_account, note)
            VALUES (p_transfer_id, 'p2p', 'posted', p_amount, p_currency, v_from_id, v_to_acct,
                    p_user_id, v_to_user, p_from_acct, p_to_account, p_note)
            RETURNING id
    ), legs AS (
        INSERT INTO entries (transfer_id, account_id, side, amount)
            SELECT t.id, leg.account_id, leg.side, p_amount
            FROM transfer AS t,
                 (VALUES (v_from_id, 'debit'), (v_to_acct, 'credit')) AS leg (account_id, side)
    ), answer AS (
        INSERT INTO idempotency_keys
            (user_id, key, fingerprint, state, response_status, response_body, transfer_id,
             expires_at)
            SELECT p_user_id, p_key, p_fingerprint, 'done', 201, body, t.id, p_expires_at
            FROM transfer AS t
    )
    INSERT INTO outbox (event_id, transfer_id, state, available)
        SELECT p_event_id, p_transfer_id, 'posted',
               jsonb_build_object('sender', v_from_avail, 'recipient', c.available)
        FROM credit AS c;
    outcome := 'posted';
    status := 201;
END
$$;
