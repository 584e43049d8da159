"""Validation of OCPP payloads against the official JSON schemas shipped in the ``ocpp`` package.

Each schema is compiled to Python code by fastjsonschema the first time its action is seen (or
all at once with :meth:`Validator.warm`) and kept for the life of the process. Violations become
:class:`OCPPError` with the OCPP-J code that fits the broken JSON-schema rule and a description
that names the offending field.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema

from csms.ocppj.errors import OCPPError

VERSIONS = ("2.0.1", "2.1")
_SCHEMA_PACKAGES = {"2.0.1": "v201", "2.1": "v21"}

# Which OCPP-J error code answers which JSON-schema rule (Part 4, table 9):
# a missing field or a wrong number of list items is an occurrence constraint, a wrong JSON type
# or a string longer than its OCPP type allows (string[36]) a type constraint, a value outside
# the allowed set or range a property constraint, and anything else (an unknown field) a format
# violation.
_RULE_CODES = {
    "required": "OccurrenceConstraintViolation",
    "minItems": "OccurrenceConstraintViolation",
    "maxItems": "OccurrenceConstraintViolation",
    "type": "TypeConstraintViolation",
    "maxLength": "TypeConstraintViolation",
    "minLength": "TypeConstraintViolation",
    "enum": "PropertyConstraintViolation",
    "const": "PropertyConstraintViolation",
    "minimum": "PropertyConstraintViolation",
    "maximum": "PropertyConstraintViolation",
    "exclusiveMinimum": "PropertyConstraintViolation",
    "exclusiveMaximum": "PropertyConstraintViolation",
    "multipleOf": "PropertyConstraintViolation",
    "pattern": "PropertyConstraintViolation",
    "format": "PropertyConstraintViolation",
}

CompiledSchema = Callable[[Any], Any]


def schema_dir(version: str) -> Path:
    """The folder of the official JSON schemas for ``version`` inside the ``ocpp`` package."""
    import ocpp

    try:
        package = _SCHEMA_PACKAGES[version]
    except KeyError:
        raise ValueError(f"unknown OCPP version {version!r}; expected one of {VERSIONS}") from None
    return Path(ocpp.__file__).parent / package / "schemas"


def _field_name(name: str) -> str:
    """fastjsonschema names fields ``data.a.b[0].c``; OCPP people read ``a.b[0].c``."""
    if name == "data":
        return "payload"
    return name.removeprefix("data.")


def _describe(exc: fastjsonschema.JsonSchemaValueException, field: str) -> str:
    """What is wrong, naming ``field``; values listed plainly (fastjsonschema's own message
    prints Python lists and sets, ``['Immediate', 'OnIdle']``, for these rules)."""
    rule, value = exc.rule, exc.value
    if rule == "enum":
        allowed = ", ".join(str(v) for v in exc.rule_definition or ())
        return f"{field} must be one of {allowed}"
    if rule == "required" and isinstance(value, dict):
        missing = [k for k in exc.rule_definition or () if k not in value]
        return f"{field} lacks the required field{'s' if len(missing) > 1 else ''} " + ", ".join(
            missing)
    if rule == "additionalProperties" and isinstance(value, dict):
        known = (exc.definition or {}).get("properties", {})
        unknown = sorted(str(k) for k in value if k not in known)
        return f"{field} has the unknown field{'s' if len(unknown) > 1 else ''} " + ", ".join(
            unknown)
    if rule == "const":
        return f"{field} must be {exc.rule_definition}"
    return exc.message.replace(exc.name or "data", field, 1)


class Validator:
    """Validates requests and responses of one OCPP version."""

    def __init__(self, version: str):
        self.version = version
        self._dir = schema_dir(version)
        self._requests: set[str] = set()
        self._responses: set[str] = set()
        self._sends: set[str] = set()
        for path in self._dir.glob("*.json"):
            stem = path.stem
            if stem.endswith("Request"):
                self._requests.add(stem.removesuffix("Request"))
            elif stem.endswith("Response"):
                self._responses.add(stem.removesuffix("Response"))
            else:
                # 2.1 messages that are only ever SENT have a schema without a suffix.
                self._sends.add(stem)
        self._compiled: dict[str, CompiledSchema] = {}
        self._request_checks: dict[str, CompiledSchema] = {}
        self._response_checks: dict[str, CompiledSchema] = {}

    def actions(self) -> frozenset[str]:
        """Every action this version defines (CALL and SEND messages)."""
        return frozenset(self._requests | self._sends)

    def is_known(self, action: str) -> bool:
        """True when ``action`` is an action of this OCPP version."""
        return action in self._requests or action in self._sends

    def warm(self) -> None:
        """Compile every schema of this version now, so no message pays for it later."""
        for action in self._sends:
            self._schema(action)
        for action in self._requests:
            self._schema(action + "Request")
        for action in self._responses:
            self._schema(action + "Response")

    def validate_request(self, action: str, payload: Any) -> None:
        """Raise :class:`OCPPError` unless ``payload`` is a valid ``action`` request."""
        check = self._request_checks.get(action)
        if check is None:
            if action in self._sends:
                name = action
            elif action in self._requests:
                name = action + "Request"
            else:
                raise OCPPError(
                    "NotImplemented", f"unknown action {action!r} in OCPP {self.version}"
                )
            check = self._request_checks[action] = self._schema(name)
        self._check(check, payload)

    def validate_response(self, action: str, payload: Any) -> None:
        """Raise :class:`OCPPError` unless ``payload`` is a valid response to ``action``."""
        check = self._response_checks.get(action)
        if check is None:
            if action not in self._responses:
                raise OCPPError("NotImplemented", f"no response defined for {action!r}")
            check = self._response_checks[action] = self._schema(action + "Response")
        self._check(check, payload)

    @staticmethod
    def _check(check: CompiledSchema, payload: Any) -> None:
        if type(payload) is not dict:
            raise OCPPError("FormatViolation", "payload must be a JSON object")
        try:
            check(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            code = _RULE_CODES.get(exc.rule or "", "FormatViolation")
            field = _field_name(exc.name or "data")
            raise OCPPError(code, _describe(exc, field), {"field": field}) from None

    def _schema(self, name: str) -> CompiledSchema:
        compiled = self._compiled.get(name)
        if compiled is None:
            with open(self._dir / f"{name}.json", encoding="utf-8") as f:
                schema = json.load(f)
            schema.pop("$id", None)
            # use_default=False: validation must never add fields (e.g. "multiplier": 0) to a
            # payload that is stored or sent.
            compiled = fastjsonschema.compile(schema, use_default=False)
            self._compiled[name] = compiled
        return compiled


@functools.cache
def get_validator(version: str) -> Validator:
    """The process-wide validator for ``version`` ("2.0.1" or "2.1")."""
    return Validator(version)
