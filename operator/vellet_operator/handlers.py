"""The kopf handlers: thin glue between kopf and ``reconcile``.

``build_registry(runtime)`` returns a fresh ``kopf.OperatorRegistry`` rather
than decorating kopf's process-wide default registry at import: the timer's
interval comes from settings read at run time, and a test that kills an
operator and starts another in the same process must not find the first
one's handlers (bound to a closed runtime) still registered.

What is deliberately missing:

- No update handler: the spec is immutable (CEL), and an edit could never
  move money anyway (the uid is the idempotency key; a different body would
  be refused as an idempotency mismatch).
- No delete handler: deleting a Transfer never reverses money. kopf adds
  its finalizer only while the timer follows an unfinished Transfer (timers
  need one, to be stopped cleanly) and removes it once the Transfer is final.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from vellet.common.errors import ConfigError
from vellet.operator import bindings, domain, reconcile, sweep
from vellet.operator.reconcile import Step
from vellet.operator.runtime import Runtime

GROUP, VERSION, PLURAL = "vellet.io", "v1alpha1", "transfers"

log = logging.getLogger("vellet.operator")


#: Where kopf records a handled creation (its default diff-base storage).
HANDLED = "kopf.zalando.org/last-handled-configuration"


def _unfinished(status: kopf.Status, **_: Any) -> bool:
    """Worth following: the wallet has it, and it has not reached a final phase."""
    return bool(status.get("transferId")) and not domain.is_final(status)


def _orphaned(status: kopf.Status, meta: kopf.Meta, **_: Any) -> bool:
    """kopf has marked the creation handled, yet the status holds no outcome.

    kopf writes a handler's result in two requests: the object (its
    annotations, which say "handled") first, then the status subresource
    (the transfer id). An operator killed between the two leaves a Transfer
    no create handler will ever run for again, while the wallet may already
    have moved the money. Such a Transfer is submitted again by the timer,
    under the same uid as Idempotency-Key, so the wallet answers with the
    transfer it already made rather than making a second one.
    """
    annotations = meta.get("annotations") or {}
    return HANDLED in annotations and not status.get("transferId") and not domain.is_final(status)


#: Seconds an orphaned-looking Transfer must stay unchanged before it is
#: resubmitted: every creation passes through that state for the moment
#: between kopf's two writes, and only one that stays there is an orphan.
ORPHAN_IDLE = 10.0


def _apply(step: Step, body: kopf.Body, patch: kopf.Patch) -> None:
    for key, value in step.status.items():
        patch.status[key] = value
    for type_, reason, message in step.events:
        kopf.event(body, type=type_, reason=reason, message=message)


async def _authorize_and_submit(
    rt: Runtime,
    spec: kopf.Spec,
    uid: str,
    meta: kopf.Meta,
    namespace: str | None,
    status: kopf.Status,
    index: kopf.Index[str, tuple[str, ...]],
    authorize_retry: int,
    submit_retry: int,
) -> Step:
    """The binding check, then the wallet call: what creating a Transfer means."""
    generation = int(meta.get("generation") or 1)
    ns = namespace or ""
    bound = bindings.is_bound(str(spec.get("fromAccount")), index.get(ns, []))
    return reconcile.authorize(
        rt, spec=spec, namespace=ns, bound=bound, status=status,
        generation=generation, retry=authorize_retry,
    ) or await reconcile.submit(
        rt, spec=spec, uid=uid, status=status, generation=generation, retry=submit_retry,
    )  # fmt: skip


def build_registry(rt: Runtime) -> kopf.OperatorRegistry:
    """The operator's handlers, bound to ``rt`` (opened on startup, closed on cleanup)."""
    registry = kopf.OperatorRegistry()
    settings = rt.settings

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if settings.kube_api_url:
            return kopf.ConnectionInfo(server=settings.kube_api_url)
        # kopf's own discovery: the pod's service account, else the kubeconfig.
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def startup(**_: Any) -> None:
        try:
            await rt.open()  # already open when started by run()
        except ConfigError as err:
            # Permanent: kopf would otherwise retry a busy port for ever.
            raise kopf.PermanentError(err.detail) from None
        if settings.sweep_api_transfers:
            rt.spawn("vellet-operator-sweep", lambda: sweep.sweep_forever(rt))
        log.info(
            "operator ready: metrics on %s, sweep %s",
            rt.site.url if rt.site else "-",
            "on" if settings.sweep_api_transfers else "off",
        )

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        await rt.close()

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    def seen(type: str | None, uid: str, status: kopf.Status, **_: Any) -> None:
        rt.tracker.seen(uid, status, deleted=type == "DELETED")

    @kopf.index(
        bindings.GROUP, bindings.VERSION, bindings.PLURAL, id="account_bindings", registry=registry
    )
    def account_bindings(
        namespace: str | None, name: str, spec: kopf.Spec, **_: Any
    ) -> dict[str, Any]:
        # kopf runs no create handler before every index has been listed once.
        return bindings.index_entry(namespace, name, spec)

    @kopf.on.create(GROUP, VERSION, PLURAL, id="submit", registry=registry)
    async def submit(
        body: kopf.Body,
        spec: kopf.Spec,
        uid: str,
        meta: kopf.Meta,
        namespace: str | None,
        status: kopf.Status,
        patch: kopf.Patch,
        retry: int,
        **kwargs: Any,
    ) -> None:
        step = await _authorize_and_submit(
            rt, spec, uid, meta, namespace, status, kwargs["account_bindings"], retry, retry
        )
        _apply(step, body, patch)
        rt.metrics.reconciled("create", step.outcome)
        if step.final_error is not None:
            raise kopf.PermanentError(step.final_error)
        if step.retry_after is not None:
            raise kopf.TemporaryError(str(step.status.get("lastError")), delay=step.retry_after)

    @kopf.timer(
        GROUP,
        VERSION,
        PLURAL,
        id="follow",
        interval=settings.timer_interval,
        when=_unfinished,
        registry=registry,
    )
    async def follow(
        body: kopf.Body, meta: kopf.Meta, status: kopf.Status, patch: kopf.Patch, **_: Any
    ) -> None:
        step = await reconcile.follow(
            rt, status=status, generation=int(meta.get("generation") or 1)
        )
        _apply(step, body, patch)
        rt.metrics.reconciled("timer", step.outcome)

    @kopf.timer(
        GROUP,
        VERSION,
        PLURAL,
        id="resubmit",
        interval=settings.timer_interval,
        idle=ORPHAN_IDLE,
        when=_orphaned,
        registry=registry,
    )
    async def resubmit(
        body: kopf.Body,
        spec: kopf.Spec,
        uid: str,
        meta: kopf.Meta,
        namespace: str | None,
        status: kopf.Status,
        patch: kopf.Patch,
        **kwargs: Any,
    ) -> None:
        # Authorised again (a lost Denied must stay denied; no second grace:
        # auth retry 1), then submitted under the same uid.
        step = await _authorize_and_submit(
            rt, spec, uid, meta, namespace, status, kwargs["account_bindings"], 1, 0
        )
        _apply(step, body, patch)
        rt.metrics.reconciled("resubmit", step.outcome)

    return registry


async def run(rt: Runtime, **overrides: Any) -> None:
    """Run the operator until it is stopped (SIGTERM/SIGINT, or ``stop_flag`` in overrides)."""
    options: dict[str, Any] = {
        "registry": build_registry(rt),
        "settings": rt.settings.kopf_settings(),
        **rt.settings.run_options(),
    }
    options.update(overrides)
    # Opened here, before kopf starts, so a busy metrics port is one readable
    # line (ConfigError) rather than kopf's failed-activity tracebacks. Same
    # loop as kopf's, and not one of the tasks kopf would cancel on exit.
    await rt.open()
    try:
        await kopf.operator(**options)
    finally:
        await rt.close()
