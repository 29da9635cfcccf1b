-- An idempotency key never expires while its transfer is unfinished.
--
-- Why: with VELLET_IDEMPOTENCY_RETENTION_HOURS > 0 a key was forgotten once
-- its age passed, whatever its transfer was doing. A deposit or withdrawal
-- queued while the bank was away (its key 'in_flight', or 'done' with the
-- 202 "queued" answer) could outlive its key; the client's retry with the
-- same key then found no key and opened a second transfer: money moved
-- twice. Now a key is expired only when its retention has passed AND it is
-- not in flight AND the transfer it created (if any) is posted, voided or
-- failed. The one rule lives here, used by wallet_p2p_batch (below, the
-- function of migration 0004 with this one condition changed) and by the
-- two-phase flows (``banking/store.py``), so the two cannot drift apart.

CREATE FUNCTION wallet_key_expired(p_state text, p_expires_at timestamptz, p_transfer_id uuid)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT p_expires_at IS NOT NULL
       AND p_expires_at <= now()
       AND p_state <> 'in_flight'
       AND NOT EXISTS (SELECT 1 FROM transfers t
                        WHERE t.id = p_transfer_id AND t.state IN ('pending', 'queued'))
$$;

CREATE OR REPLACE FUNCTION wallet_p2p_batch(
    p_user_ids     bigint[],
    p_from_accts   text[],
    p_keys         text[],
    p_fingerprints text[],
    p_expires_at   timestamptz[],
    p_transfer_ids uuid[],
    p_event_ids    uuid[],
    p_to_accounts  text[],
    p_amounts      bigint[],
    p_currencies   text[],
    p_notes        text[],
    p_successes    jsonb[],
    p_refusals     jsonb
) RETURNS TABLE (ord integer, outcome text, status integer, body jsonb)
LANGUAGE plpgsql AS $$
DECLARE
    n          integer := cardinality(p_user_ids);
    v_now      text := wallet_ts(now());
    v_outcome  text[] := array_fill(NULL::text, ARRAY[n]);
    v_status   integer[] := array_fill(NULL::integer, ARRAY[n]);
    v_body     jsonb[] := array_fill(NULL::jsonb, ARRAY[n]);
    v_locked   boolean[];
    v_repeat   boolean[];
    v_from     bigint[];
    v_to_user  bigint[];
    v_to       bigint[];
    v_ids      bigint[];
    v_start    bigint[];
    v_avail    bigint[];
    v_delta    bigint[];
    v_changed  bigint[];
    v_after_s  bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    v_after_r  bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    v_posted   integer[] := '{}';
    v_answered integer[] := '{}';
    k          record;
    fi         integer;
    ti         integer;
BEGIN
    -- Keys first: take each key's lock (another session holding it: in
    -- flight), then answer the keys already stored; a new key repeated within
    -- the batch is in flight for all but its first use.
    SELECT array_agg(q.locked ORDER BY q.i), array_agg(q.repeat ORDER BY q.i)
        INTO v_locked, v_repeat
        FROM (SELECT t.i,
                     pg_try_advisory_xact_lock(hashtextextended(t.key, t.uid)) AS locked,
                     row_number() OVER (PARTITION BY t.uid, t.key ORDER BY t.i) > 1 AS repeat
                FROM unnest(p_user_ids, p_keys) WITH ORDINALITY AS t (uid, key, i)) AS q;
    FOR i IN 1 .. n LOOP
        IF NOT v_locked[i] THEN
            v_outcome[i] := 'in_flight';
            v_status[i] := 409;
        END IF;
    END LOOP;

    FOR k IN
        SELECT t.i::integer AS i, s.expires_at, s.fingerprint, s.state, s.response_status,
               s.response_body, s.transfer_id
            FROM unnest(p_user_ids, p_keys) WITH ORDINALITY AS t (uid, key, i)
            CROSS JOIN LATERAL (SELECT * FROM idempotency_keys s
                                 WHERE s.user_id = t.uid AND s.key = t.key OFFSET 0) AS s
    LOOP
        CONTINUE WHEN v_outcome[k.i] IS NOT NULL;
        IF wallet_key_expired(k.state, k.expires_at, k.transfer_id) THEN
            DELETE FROM idempotency_keys s
                WHERE s.user_id = p_user_ids[k.i] AND s.key = p_keys[k.i];
        ELSIF k.fingerprint <> p_fingerprints[k.i] THEN
            v_outcome[k.i] := 'mismatch';
            v_status[k.i] := 422;
        ELSIF k.state = 'in_flight' THEN
            v_outcome[k.i] := 'in_flight';
            v_status[k.i] := 409;
        ELSE
            v_outcome[k.i] := 'replayed';
            v_status[k.i] := k.response_status;
            v_body[k.i] := k.response_body;
        END IF;
    END LOOP;

    FOR i IN 1 .. n LOOP
        IF v_repeat[i] AND v_outcome[i] IS NULL THEN
            v_outcome[i] := 'in_flight';
            v_status[i] := 409;
        END IF;
    END LOOP;

    -- Both accounts of every transfer, then every account locked in id order.
    SELECT array_agg(fa.id ORDER BY t.i), array_agg(u.id ORDER BY t.i),
           array_agg(ta.id ORDER BY t.i)
        INTO v_from, v_to_user, v_to
        FROM unnest(p_user_ids, p_to_accounts, p_currencies) WITH ORDINALITY
                 AS t (uid, to_account, currency, i)
        LEFT JOIN LATERAL (SELECT a.id FROM ledger_accounts a
                            WHERE a.user_id = t.uid AND a.currency = t.currency OFFSET 0)
            AS fa ON true
        LEFT JOIN LATERAL (SELECT x.id FROM users x WHERE x.account_number = t.to_account
                            OFFSET 0) AS u ON true
        LEFT JOIN LATERAL (SELECT a.id FROM ledger_accounts a
                            WHERE a.user_id = u.id AND a.currency = t.currency OFFSET 0)
            AS ta ON true;
    SELECT coalesce(array_agg(DISTINCT x ORDER BY x), '{}') INTO v_ids
        FROM unnest(v_from || v_to) AS x WHERE x IS NOT NULL;
    SELECT coalesce(array_agg(a.available ORDER BY a.id), '{}') INTO v_start
        FROM (SELECT l.id, l.balance - l.pending AS available
                FROM ledger_accounts l
                WHERE l.id = ANY (v_ids)
                ORDER BY l.id
                FOR UPDATE) AS a;
    v_avail := v_start;

    -- The transfers, one after another, on the locked balances.
    FOR i IN 1 .. n LOOP
        CONTINUE WHEN v_outcome[i] IS NOT NULL;
        IF v_to_user[i] IS NULL THEN
            v_outcome[i] := 'unknown_recipient';
        ELSIF v_to_user[i] = p_user_ids[i] THEN
            v_outcome[i] := 'same_account';
        ELSIF v_from[i] IS NULL OR v_to[i] IS NULL THEN
            v_outcome[i] := 'currency_mismatch';
        ELSE
            fi := array_position(v_ids, v_from[i]);
            ti := array_position(v_ids, v_to[i]);
            IF v_avail[fi] >= p_amounts[i] THEN
                v_avail[fi] := v_avail[fi] - p_amounts[i];
                v_avail[ti] := v_avail[ti] + p_amounts[i];
                v_after_s[i] := v_avail[fi];
                v_after_r[i] := v_avail[ti];
                v_outcome[i] := 'posted';
                v_status[i] := 201;
                v_body[i] := p_successes[i] || jsonb_build_object(
                    'from_account', p_from_accts[i], 'created_at', v_now, 'updated_at', v_now);
                v_posted := v_posted || i;
            ELSE
                v_outcome[i] := 'insufficient_funds';
            END IF;
        END IF;
        IF v_outcome[i] <> 'posted' THEN
            v_status[i] := (p_refusals -> v_outcome[i] ->> 'status')::integer;
            v_body[i] := p_refusals -> v_outcome[i] -> 'body';
        END IF;
        v_answered := v_answered || i;
    END LOOP;

    SELECT coalesce(array_agg(d.final - d.start ORDER BY d.ord), '{}'),
           coalesce(array_agg(d.id) FILTER (WHERE d.final <> d.start), '{}')
        INTO v_delta, v_changed
        FROM unnest(v_ids, v_start, v_avail) WITH ORDINALITY AS d (id, start, final, ord);

    -- Everything the batch writes, in ONE statement (each statement is an
    -- executor run; every part runs, and foreign keys are checked at the
    -- statement's end, after all of them).
    WITH balances AS (
        UPDATE ledger_accounts a
            SET balance = a.balance + v_delta[array_position(v_ids, a.id)], updated_at = now()
            WHERE a.id = ANY (v_changed)
    ), moved AS (
        INSERT INTO transfers (id, kind, state, amount, currency, debit_account_id,
                               credit_account_id, from_user_id, to_user_id, from_account,
                               to_account, note)
            SELECT p_transfer_ids[i], 'p2p', 'posted', p_amounts[i], p_currencies[i], v_from[i],
                   v_to[i], p_user_ids[i], v_to_user[i], p_from_accts[i], p_to_accounts[i],
                   p_notes[i]
            FROM unnest(v_posted) AS i
    ), legs AS (
        INSERT INTO entries (transfer_id, account_id, side, amount)
            SELECT p_transfer_ids[i], leg.account_id, leg.side, p_amounts[i]
            FROM unnest(v_posted) AS i,
                 LATERAL (VALUES (v_from[i], 'debit'), (v_to[i], 'credit'))
                     AS leg (account_id, side)
    ), events AS (
        INSERT INTO outbox (event_id, transfer_id, state, available)
            SELECT p_event_ids[i], p_transfer_ids[i], 'posted',
                   jsonb_build_object('sender', v_after_s[i], 'recipient', v_after_r[i])
            FROM unnest(v_posted) AS i
    )
    INSERT INTO idempotency_keys
        (user_id, key, fingerprint, state, response_status, response_body, transfer_id,
         expires_at)
        SELECT p_user_ids[i], p_keys[i], p_fingerprints[i], 'done', v_status[i], v_body[i],
               CASE WHEN v_outcome[i] = 'posted' THEN p_transfer_ids[i] END, p_expires_at[i]
        FROM unnest(v_answered) AS i;

    RETURN QUERY SELECT i, v_outcome[i], v_status[i], v_body[i] FROM generate_series(1, n) AS i;
END
$$;
