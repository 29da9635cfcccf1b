"""A CRD file read the way the API server reads it.

``Crd.admit`` is what happens to a custom resource on its way into etcd:
unknown fields are pruned, then the object is checked against the version's
structural schema, then against its CEL rules (transition rules with the old
object on updates). Like the API server, CEL is skipped when the schema found
type errors, because rules cannot be evaluated on values of the wrong type.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.operator.emulator import cel, errors, schema
from tests.operator.emulator.errors import FieldError

# RFC 1123 subdomain: what a custom resource's name must be.
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SKIPPED_CEL = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)


@dataclass(frozen=True)
class Admission:
    """What the API server makes of an incoming object."""

    #: The object as it would be stored (unknown fields pruned).
    stored: dict[str, Any]
    #: Paths of the fields that were pruned (``fieldValidation=Strict`` refuses them).
    unknown_fields: list[str]
    #: Why the object is refused; empty when it is valid.
    errors: list[FieldError]


@dataclass(frozen=True)
class Crd:
    definition: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> Crd:
        return cls.parse(yaml.safe_load(path.read_text()))

    @classmethod
    def parse(cls, definition: dict[str, Any]) -> Crd:
        """Check that every schema uses only what this emulator implements, compile CEL."""
        if definition.get("kind") != "CustomResourceDefinition":
            raise ValueError("not a CustomResourceDefinition")
        for version in definition["spec"]["versions"]:
            body = version["schema"]["openAPIV3Schema"]
            schema.check_supported(body)
            cel.compile_all(body)
        return cls(definition)

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = self.definition["spec"]
        return spec

    @property
    def group(self) -> str:
        return str(self.spec["group"])

    @property
    def kind(self) -> str:
        return str(self.spec["names"]["kind"])

    @property
    def plural(self) -> str:
        return str(self.spec["names"]["plural"])

    @property
    def singular(self) -> str:
        return str(self.spec["names"].get("singular", self.kind.lower()))

    @property
    def short_names(self) -> list[str]:
        return list(self.spec["names"].get("shortNames", []))

    @property
    def categories(self) -> list[str]:
        return list(self.spec["names"].get("categories", []))

    @property
    def namespaced(self) -> bool:
        return bool(self.spec["scope"] == "Namespaced")

    def version(self, name: str | None = None) -> dict[str, Any]:
        """The named version, or the storage version."""
        for version in self.spec["versions"]:
            if (name is None and version.get("storage")) or version["name"] == name:
                return dict(version)
        raise KeyError(f"{self.plural}.{self.group} has no version {name!r}")

    def api_version(self, version: str | None = None) -> str:
        return f"{self.group}/{self.version(version)['name']}"

    def schema(self, version: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = self.version(version)["schema"]["openAPIV3Schema"]
        return body

    def has_status(self, version: str | None = None) -> bool:
        return "status" in self.version(version).get("subresources", {})

    def admit(
        self, obj: dict[str, Any], old: dict[str, Any] | None = None, version: str | None = None
    ) -> Admission:
        stored = copy.deepcopy(obj)
        unknown = schema.prune(self.schema(version), stored)
        return Admission(stored, unknown, self.validate(stored, old, version))

    def validate(
        self, obj: dict[str, Any], old: dict[str, Any] | None = None, version: str | None = None
    ) -> list[FieldError]:
        """Why ``obj`` (already pruned) is invalid; an empty list when it is valid."""
        body = self.schema(version)
        found = self._validate_identity(obj, version)
        found += schema.validate(body, obj)
        if any(error.reason == "FieldValueTypeInvalid" for error in found):
            found.append(errors.FieldError("<nil>", "FieldValueInvalid", _SKIPPED_CEL))
        else:
            found += cel.validate(body, obj, cel.ABSENT if old is None else old)
        return found

    def _validate_identity(self, obj: dict[str, Any], version: str | None) -> list[FieldError]:
        found: list[FieldError] = []
        if obj.get("apiVersion") != self.api_version(version):
            found.append(
                errors.invalid("apiVersion", obj.get("apiVersion"), "must be " + self.api_version())
            )
        if obj.get("kind") != self.kind:
            found.append(errors.invalid("kind", obj.get("kind"), f"must be {self.kind}"))
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            return [*found, errors.required("metadata")]
        name = meta.get("name")
        if not name:
            found.append(errors.required("metadata.name", "name or generateName is required"))
        elif not isinstance(name, str) or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            found.append(
                errors.invalid(
                    "metadata.name",
                    name,
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                    "characters, '-' or '.', and must start and end with an alphanumeric character",
                )
            )
        for key in ("labels", "annotations"):
            mapping = meta.get(key, {})
            if not isinstance(mapping, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
            ):
                found.append(
                    errors.invalid(f"metadata.{key}", mapping, "must map strings to strings")
                )
        return found

    def printer_columns(
        self, obj: dict[str, Any], version: str | None = None, *, wide: bool = False
    ) -> dict[str, Any]:
        """The columns ``kubectl get`` shows for ``obj`` (simple ``.a.b`` paths only)."""
        columns: dict[str, Any] = {}
        for column in self.version(version).get("additionalPrinterColumns", []):
            if column.get("priority", 0) and not wide:
                continue
            value: Any = obj
            for part in column["jsonPath"].lstrip(".").split("."):
                value = value.get(part) if isinstance(value, dict) else None
            columns[column["name"]] = value
        return columns
