"""Logging: structlog key/value events, a console format for people and JSON for machines."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import structlog

from csms.ocppj.actions import MASK, SECRET_VARIABLES

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
FORMATS = ("console", "json")


def configure_logging(level: str = "info", fmt: str = "console") -> None:
    """Route every log event (structlog and stdlib) to stderr in the chosen format.

    At ``debug`` every OCPP frame in and out is logged with the station id and message id.
    """
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}")
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        # Plain tracebacks: rich's (structlog's default when rich is installed) walks every
        # frame's locals, which on a node means the session table of thousands of stations,
        # and reads source files, which fails when the node is out of file descriptors.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)
    shared: list[structlog.types.Processor] = [
        redact_secrets,
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info if fmt == "json" else _identity,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer
        ], foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared])
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(LEVELS[level], logging.INFO))




def redact_secrets(logger: object, name: str, event: dict) -> dict:
    """Mask secret device-model values in logged OCPP frames (e.g. a password rotation)."""
    frame = event.get("frame")
    if isinstance(frame, bytes):
        frame = frame.decode("utf-8", "replace")
    if isinstance(frame, str) and any(secret in frame for secret in SECRET_VARIABLES):
        try:
            event["frame"] = json.dumps(_mask(json.loads(frame)), separators=(",", ":"))
        except ValueError:
            event["frame"] = MASK
    return event


def _mask(value: Any) -> Any:
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, dict):
        variable = value.get("variable")
        secret = isinstance(variable, dict) and variable.get("name") in SECRET_VARIABLES
        return {k: (MASK if secret and k == "attributeValue" else _mask(v))
                for k, v in value.items()}
    return value


def _identity(logger: object, name: str, event: dict) -> dict:
    return event
