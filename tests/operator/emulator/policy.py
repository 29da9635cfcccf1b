"""A ValidatingAdmissionPolicy and its binding, evaluated the way the API server does.

Only what the shipped policy uses, and refused (NotImplementedError) rather
than guessed otherwise: ``matchConstraints.resourceRules`` (groups, versions,
resources, operations), a ``paramKind`` resolved through the binding's
``paramRef.name`` in the object's namespace (namespaced params) with
``parameterNotFoundAction``, ``validations`` with ``expression``,
``message``/``messageExpression`` and ``reason``, ``failurePolicy: Fail``,
and ``validationActions: [Deny]``. The CEL variables are the ones Kubernetes
gives: ``object``, ``oldObject``, ``request``, ``params`` and
``namespaceObject``. Denials read like the API server's, so a test can check
the message a ``kubectl apply`` user would see.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import yaml

from tests.operator.emulator import cel

_SUPPORTED_SPEC = {"failurePolicy", "paramKind", "matchConstraints", "validations"}
_SUPPORTED_RULE = {"apiGroups", "apiVersions", "operations", "resources"}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: What the API server answers on a denial (``kubectl`` prints it); empty when allowed.
    message: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Policy:
    policy: dict[str, Any]
    binding: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Policy:
        docs = {d["kind"]: d for d in yaml.safe_load_all(path.read_text())}
        policy = docs["ValidatingAdmissionPolicy"]
        binding = docs["ValidatingAdmissionPolicyBinding"]
        unknown = set(policy["spec"]) - _SUPPORTED_SPEC
        if unknown or policy["spec"].get("failurePolicy", "Fail") != "Fail":
            raise NotImplementedError(f"policy fields not emulated: {sorted(unknown)}")
        if binding["spec"]["policyName"] != policy["metadata"]["name"]:
            raise ValueError("the binding names another policy")
        if binding["spec"].get("validationActions") != ["Deny"]:
            raise NotImplementedError("only validationActions [Deny] is emulated")
        for rule in policy["spec"]["matchConstraints"]["resourceRules"]:
            if set(rule) - _SUPPORTED_RULE:
                raise NotImplementedError(f"resource rule fields: {sorted(rule)}")
        for validation in policy["spec"]["validations"]:
            cel.program(validation["expression"])  # a syntax error fails here
            if "messageExpression" in validation:
                cel.program(validation["messageExpression"])
        return cls(policy, binding)

    @property
    def name(self) -> str:
        return str(self.policy["metadata"]["name"])

    def matches(self, group: str, version: str, resource: str, operation: str) -> bool:
        def has(values: list[str], value: str) -> bool:
            return "*" in values or value in values

        return any(
            has(rule["apiGroups"], group)
            and has(rule["apiVersions"], version)
            and has(rule["resources"], resource)
            and has(rule["operations"], operation)
            for rule in self.policy["spec"]["matchConstraints"]["resourceRules"]
        )

    def admit(
        self,
        obj: dict[str, Any],
        *,
        operation: str,
        resource: str,
        namespace: dict[str, Any],
        param_objects: Mapping[tuple[str, str], dict[str, Any]],
        old: dict[str, Any] | None = None,
    ) -> Decision:
        """Admit ``obj`` (a ``resource`` of its apiVersion's group) on ``operation``.

        ``param_objects`` is what the API server could read of ``paramKind``:
        (namespace, name) -> object.
        """
        group, _, version = str(obj["apiVersion"]).rpartition("/")
        if not self.matches(group, version, resource, operation):
            return Decision(True)
        ns_name = namespace["metadata"]["name"]
        ref = self.binding["spec"]["paramRef"]
        params = param_objects.get((ref.get("namespace", ns_name), ref["name"]))
        kind = self.policy["spec"]["paramKind"]
        if params is not None and (
            params.get("apiVersion") != kind["apiVersion"] or params.get("kind") != kind["kind"]
        ):
            params = None
        if params is None:
            if ref.get("parameterNotFoundAction", "Deny") == "Allow":
                return Decision(True)
            return self._denied(
                obj, resource, group,
                "failed to configure binding: no params found for policy binding with "
                "`Deny` parameterNotFoundAction", "Forbidden",
            )  # fmt: skip
        activation = {
            "object": obj,
            "oldObject": old,
            "params": params,
            "namespaceObject": namespace,
            "request": {
                "operation": operation,
                "namespace": ns_name,
                "name": obj["metadata"]["name"],
                "resource": {"group": group, "version": version, "resource": resource},
            },
        }
        for validation in self.policy["spec"]["validations"]:
            if _evaluate(validation["expression"], activation) is not True:
                text = validation.get("message") or f"failed expression: {validation['expression']}"
                if "messageExpression" in validation:
                    produced = _evaluate(validation["messageExpression"], activation)
                    if isinstance(produced, str) and produced.strip():
                        text = produced
                return self._denied(obj, resource, group, text, validation.get("reason", "Invalid"))
        return Decision(True)

    def _denied(
        self, obj: dict[str, Any], resource: str, group: str, text: str, reason: str
    ) -> Decision:
        name = obj["metadata"]["name"]
        binding = self.binding["metadata"]["name"]
        message = (
            f'{resource}.{group} "{name}" is forbidden: ValidatingAdmissionPolicy '
            f"'{self.name}' with binding '{binding}' denied request: {text}"
        )
        return Decision(False, message, reason)


def _evaluate(expression: str, activation: dict[str, Any]) -> Any:
    result = cel.program(expression).evaluate(
        {key: celpy.json_to_cel(value) for key, value in activation.items()}
    )
    if isinstance(result, celpy.CELEvalError):
        raise result
    if isinstance(result, celpy.celtypes.BoolType):
        return bool(result)
    if isinstance(result, celpy.celtypes.StringType):
        return str(result)
    return result
