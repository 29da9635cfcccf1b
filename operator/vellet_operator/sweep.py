"""The cluster-wide sweep: re-drive stuck transfers that no Transfer resource follows.

Most transfers are made through the wallet's HTTP API and have no resource,
so no kopf timer looks after them. The sweep re-drives what the wallet's own
reconciler would: every transfer the wallet lists as pending or queued and
unattempted for ``stuck_after`` seconds (the wallet stamps each re-drive, so
one is listed again only after another ``stuck_after``). When Redis loses a bank request or a
consumer dies with it, such a transfer stays queued until someone re-drives
it. Outside a cluster the wallet's own reconcile timer does that; in a
cluster the wallet runs with ``VELLET_WALLET_RECONCILER=false`` and this
sweep does it instead, so the re-drive is one operator's job, next to the
per-Transfer timers, with one set of metrics and one bank probe.

Why an asyncio task started by ``@kopf.on.startup`` and cancelled by
``@kopf.on.cleanup``, not a kopf daemon or timer: those belong to one
resource object and live and die with it; the sweep belongs to no object and
must run even when there are no Transfers at all. A probe handler
(``@kopf.on.probe``) runs only when something scrapes the liveness
endpoint. Started from the startup handler, the task runs in kopf's own
loop, and the cleanup handler stops it before the HTTP session it uses is
closed.

Every pass is safe to repeat: a re-drive only re-publishes the request the
wallet recorded, and the bank executes a transfer once. With peering, each
replica sweeps (kopf does not tell a paused replica's startup handler that
it is paused); that costs a duplicate list request per interval, never money.
"""

from __future__ import annotations

import asyncio
import logging

from vellet.operator.domain import WalletTransfer
from vellet.operator.runtime import Runtime
from vellet.operator.wallet_client import WalletRefused, WalletUnavailable

log = logging.getLogger("vellet.operator.sweep")


#: The wallet's unfinished states: both get stuck when a bank request is lost.
STATES = ("pending", "queued")


async def sweep_once(rt: Runtime) -> int:
    """One pass; returns how many transfers were re-driven."""
    stuck: list[WalletTransfer] = []
    try:
        for state in STATES:
            stuck += await rt.wallet.stuck(state, older_than=rt.settings.stuck_after)
    except (WalletUnavailable, WalletRefused) as err:
        log.warning("sweep: cannot list stuck transfers: %s", err)
        rt.metrics.reconciled("sweep", "retry")
        return 0
    # A queued transfer made by a Transfer resource is re-driven by that
    # resource's timer, which reports it in the resource's status and Events.
    mine = {t.id for t in stuck if not (t.state == "queued" and rt.tracker.owns(t.id))}
    rt.tracker.set_swept(mine)
    if not mine:
        rt.metrics.reconciled("sweep", "ok")
        return 0
    if not await rt.probe.healthy():
        log.info("sweep: %d stuck transfer(s) wait for the bank", len(mine))
        rt.metrics.reconciled("sweep", "retry")
        return 0
    redriven = 0
    for transfer_id in sorted(mine):
        try:
            await rt.wallet.redrive(transfer_id)
        except (WalletUnavailable, WalletRefused) as err:
            log.warning("sweep: re-drive of %s failed: %s", transfer_id, err)
            continue
        redriven += 1
    log.info("sweep: re-drove %d of %d stuck transfer(s)", redriven, len(mine))
    rt.metrics.reconciled("sweep", "ok" if redriven == len(mine) else "retry")
    return redriven


async def sweep_forever(rt: Runtime) -> None:
    """``sweep_once`` every ``timer_interval`` seconds until cancelled."""
    while True:
        try:
            await sweep_once(rt)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in one pass must not end the sweeping for good
            log.exception("sweep: pass failed")
            rt.metrics.reconciled("sweep", "retry")
        await asyncio.sleep(rt.settings.timer_interval)
