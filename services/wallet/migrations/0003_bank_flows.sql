-- Deposits and withdrawals through the bank: two-phase transfers that
-- survive a bank outage (see services/wallet/twophase.py).
--
-- A deposit or withdrawal is recorded 'pending' (a withdrawal with its
-- reservation, ledger_accounts.pending += amount) and, in the same
-- transaction, a bank_outbox row: the request the bank must eventually see.
-- The row is due a little later than the direct HTTP call can take, so when
-- the wallet dies between COMMIT and the call, the relay publishes the
-- request to vellet:bank:requests anyway. When the direct call fails the row
-- is made due at once ('queued'); when the bank answers, the row is deleted
-- with the result. The database, never Redis, is the source of truth: a
-- transfer still pending or queued after VELLET_STUCK_AFTER seconds is
-- re-driven (the row is written again) by the reconciler or the operator.

ALTER TABLE transfers
    -- The bank's id of the transaction that settled (or refused) this transfer.
    ADD COLUMN bank_txn_id  uuid,
    -- How often the request was (re-)sent to the bank, and when last: a
    -- transfer counts as stuck when attempted_at is older than the threshold,
    -- so a re-drive also backs off the next one.
    ADD COLUMN attempts     integer     NOT NULL DEFAULT 0,
    ADD COLUMN attempted_at timestamptz NOT NULL DEFAULT now(),
    -- When it reached posted, voided or failed.
    ADD COLUMN finished_at  timestamptz,
    -- Which states each kind can reach: P2P posts at once; a withdrawal the
    -- bank refuses is voided (its reservation released); a deposit the bank
    -- refuses failed (nothing was reserved).
    ADD CONSTRAINT transfers_state_per_kind CHECK (
        (kind = 'p2p' AND state = 'posted')
        OR (kind = 'withdrawal' AND state IN ('pending', 'queued', 'posted', 'voided'))
        OR (kind = 'deposit' AND state IN ('pending', 'queued', 'posted', 'failed'))),
    -- A refused transfer always says why; nothing else carries a reason.
    ADD CONSTRAINT transfers_failure_reason CHECK (
        (state IN ('voided', 'failed')) = (failure_reason IS NOT NULL));

CREATE INDEX transfers_stuck ON transfers (attempted_at)
    WHERE state IN ('pending', 'queued');

-- The requests not yet on vellet:bank:requests (a transactional outbox).
-- One row per transfer: writing it again (a re-drive) only makes it due now.
CREATE TABLE bank_outbox (
    transfer_id uuid        PRIMARY KEY REFERENCES transfers (id),
    due_at      timestamptz NOT NULL DEFAULT now(),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bank_outbox_due ON bank_outbox (due_at);

-- A two-phase request keeps its idempotency key 'in_flight' while the bank
-- is asked; whoever finishes the transfer (the request itself, the result
-- consumer, the relay) stores the answer under it, found by transfer id.
CREATE INDEX idempotency_keys_in_flight ON idempotency_keys (transfer_id)
    WHERE state = 'in_flight';
