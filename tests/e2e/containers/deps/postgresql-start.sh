#!/bin/bash
# initdb on first start, the two roles and databases, then PostgreSQL on every address
# with password (scram) authentication. BANK_PASSWORD and WALLET_PASSWORD come from env.
set -euo pipefail
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    initdb --auth-local=trust --auth-host=scram-sha-256 -U postgres "$PGDATA" >/dev/null
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -w -o "-c listen_addresses=''" start >/dev/null
    psql -q -v ON_ERROR_STOP=1 -U postgres \
        -v bank="$BANK_PASSWORD" -v wallet="$WALLET_PASSWORD" <<'SQL'
CREATE ROLE vellet_bank LOGIN PASSWORD :'bank';
CREATE ROLE vellet_wallet LOGIN PASSWORD :'wallet';
CREATE DATABASE vellet_bank OWNER vellet_bank;
CREATE DATABASE vellet_wallet OWNER vellet_wallet;
SQL
    pg_ctl -w stop >/dev/null
fi
exec postgres -c listen_addresses='*' -c unix_socket_directories=/tmp -c fsync=off
