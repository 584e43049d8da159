"""Validation of OCPP payloads against the official JSON schemas shipped in the ``ocpp`` package.

Each payload is checked twice over, cheaply first: by jsonschema-rs (the schema compiled to a
Rust validator, about 2 us for a TransactionEvent with four sampled values), and only a payload
it rejects by the schema compiled to Python code by fastjsonschema (about 25 us), whose error
says which rule broke and where; that second check has the last word, so what is accepted and
every error code and description are fastjsonschema's. (The two agree on every payload a station
should send; jsonschema-rs is stricter about two date-time forms, a leap second and an offset
without colon, which the fallback still accepts.) Each schema is compiled the first time its
action is seen (or all at once with :meth:`Validator.warm`) and kept for the life of the
process. Generating and
compiling that code for every schema of both versions takes 3 to 15 s of CPU, which a restart
(every station waiting to reconnect) should not pay each time: :meth:`Validator.warm` keeps the
compiled code in a cache file (``marshal``, in the user's cache directory or ``CSMS_CACHE_DIR``)
named after a digest of the schema files, fastjsonschema's version and the interpreter's
bytecode version, and loads it in well under a second at the next start; any change of those
makes a new file, and an unreadable cache is rebuilt. Violations become
:class:`OCPPError` with the OCPP-J code that fits the broken JSON-schema rule and a description
that names the offending field.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import marshal
import os
from collections.abc import Callable
from pathlib import Path
from types import CodeType
from typing import Any

import fastjsonschema
import jsonschema_rs

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
#: jsonschema-rs's verdict on a payload: True when it is valid
FastCheck = Callable[[Any], bool]
#: The fast check and the full one (the one that explains) of one schema
Checks = tuple[FastCheck, CompiledSchema]
#: Changes when the cache files' layout does.
_CACHE_FORMAT = b"csms-validators-1"


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
        self._fast: dict[str, FastCheck] = {}
        self._code: dict[str, CodeType] = {}
        self._request_checks: dict[str, Checks] = {}
        self._response_checks: dict[str, Checks] = {}

    def actions(self) -> frozenset[str]:
        """Every action this version defines (CALL and SEND messages)."""
        return frozenset(self._requests | self._sends)

    def is_known(self, action: str) -> bool:
        """True when ``action`` is an action of this OCPP version."""
        return action in self._requests or action in self._sends

    def warm(self) -> None:
        """Compile every schema of this version now, so no message pays for it later (from
        the cache file when it holds them, see the module's docstring)."""
        names = sorted({*self._sends, *(a + "Request" for a in self._requests),
                        *(a + "Response" for a in self._responses)})
        if all(n in self._compiled for n in names):
            return
        cache = _cache_file(self.version, self._dir, names)
        if cache is not None and not self._code:
            with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
                loaded = marshal.loads(cache.read_bytes())
                if isinstance(loaded, dict) and set(loaded) == set(names):
                    self._code = loaded
        missing = [n for n in names if n not in self._code]
        for name in names:
            self._checks(name)
        if cache is not None and missing:
            _write_atomically(cache, marshal.dumps(self._code))
        self._code.clear()  # every schema is compiled now; the module code is not needed

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
            check = self._request_checks[action] = self._checks(name)
        self._check(check, payload)

    def validate_response(self, action: str, payload: Any) -> None:
        """Raise :class:`OCPPError` unless ``payload`` is a valid response to ``action``."""
        check = self._response_checks.get(action)
        if check is None:
            if action not in self._responses:
                raise OCPPError("NotImplemented", f"no response defined for {action!r}")
            check = self._response_checks[action] = self._checks(action + "Response")
        self._check(check, payload)

    @staticmethod
    def _check(checks: Checks, payload: Any) -> None:
        if type(payload) is not dict:
            raise OCPPError("FormatViolation", "payload must be a JSON object")
        fast, full = checks
        try:
            if fast(payload):
                return
        except (ValueError, TypeError, OverflowError):  # a value it cannot take: ask the other
            pass
        try:
            full(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            code = _RULE_CODES.get(exc.rule or "", "FormatViolation")
            field = _field_name(exc.name or "data")
            raise OCPPError(code, _describe(exc, field), {"field": field}) from None

    def _checks(self, name: str) -> Checks:
        fast = self._fast.get(name)
        if fast is None:
            schema = self._load(name)
            fast = self._fast[name] = jsonschema_rs.validator_for(
                schema, validate_formats=True).is_valid
        return fast, self._schema(name)

    def _load(self, name: str) -> dict[str, Any]:
        with open(self._dir / f"{name}.json", encoding="utf-8") as f:
            schema = json.load(f)
        schema.pop("$id", None)
        return schema

    def _schema(self, name: str) -> CompiledSchema:
        compiled = self._compiled.get(name)
        if compiled is None:
            code = self._code.get(name)
            if code is None:
                schema = self._load(name)
                # use_default=False: validation must never add fields (e.g. "multiplier": 0)
                # to a payload that is stored or sent.
                source = fastjsonschema.compile_to_code(schema, use_default=False)
                code = self._code[name] = compile(source, f"<schema {self.version} {name}>",
                                                  "exec")
            namespace: dict[str, Any] = {}
            exec(code, namespace)  # defines validate() and the patterns it uses
            compiled = self._compiled[name] = namespace["validate"]
        return compiled


def _cache_file(version: str, directory: Path, names: list[str]) -> Path | None:
    """The cache file of ``version``'s compiled schemas, or None without a cache directory."""
    root = os.environ.get("CSMS_CACHE_DIR")
    if not root:
        try:
            import platformdirs

            root = platformdirs.user_cache_dir("csms")
        except Exception:
            return None
    digest = hashlib.sha256(_CACHE_FORMAT + importlib.util.MAGIC_NUMBER
                            + fastjsonschema.VERSION.encode())
    for name in names:
        digest.update(name.encode() + b"\0" + (directory / f"{name}.json").read_bytes())
    return Path(root) / f"validators-{version}-{digest.hexdigest()[:24]}.marshal"


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that no reader sees it half written; a cache that cannot
    be written is no error (the next start compiles again)."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)


@functools.cache
def get_validator(version: str) -> Validator:
    """The process-wide validator for ``version`` ("2.0.1" or "2.1")."""
    return Validator(version)
