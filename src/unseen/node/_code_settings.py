"""The node's job settings: which modules a job's code may import and the limits of every job.

The owner (or an admin) changes them with ``code.settings``; they are kept in the settings
store under ``code`` (only the values that differ from the defaults) and apply to every job
started after the change, the owner's mock runs included. Scientists cannot change or read
them (the import refusal in a job's logs names the allowed modules).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from unseen.errors import UsageError
from unseen.jobs import DEFAULT_IMPORTS, JobLimits
from unseen.messages import UNSET
from unseen.messages.code import CODE_SETTINGS, CodeSettings, CodeSettingsRequest
from unseen.node._principal import ADMINS, Principal
from unseen.node._routes import typed_route

if TYPE_CHECKING:
    from unseen.node._node import Node

__all__ = ["JobSettings", "SETTINGS_KEY", "load", "code_settings"]

log = logging.getLogger("unseen.node")

SETTINGS_KEY = "code"
_LIMITS = tuple(f.name for f in fields(JobLimits))


@dataclass(frozen=True)
class JobSettings:
    """What every job of a node gets: its allowed imports and its limits."""

    allowed_imports: tuple[str, ...] = DEFAULT_IMPORTS
    limits: JobLimits = field(default_factory=JobLimits)

    def shown(self) -> CodeSettings:
        return CodeSettings(allowed_imports=list(self.allowed_imports), **asdict(self.limits))

    def stored(self) -> dict[str, Any]:
        """The values that differ from the defaults, as plain data for the settings store."""
        out: dict[str, Any] = {}
        if self.allowed_imports != DEFAULT_IMPORTS:
            out["allowed_imports"] = list(self.allowed_imports)
        defaults = JobLimits()
        for name in _LIMITS:
            if getattr(self.limits, name) != getattr(defaults, name):
                out[name] = getattr(self.limits, name)
        return out

    def changed(self, changes: dict[str, Any]) -> JobSettings:
        """These settings with ``changes`` (a value None: back to the default);
        ``UsageError`` names a setting that is unknown or invalid."""
        known = ("allowed_imports", *_LIMITS)
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise UsageError(
                f"no code setting {unknown[0]!r}: the settings are {', '.join(sorted(known))}"
            )
        imports = self.allowed_imports
        if "allowed_imports" in changes:
            value = changes["allowed_imports"]
            imports = DEFAULT_IMPORTS if value is None else _imports(value)
        defaults = JobLimits()
        limits: dict[str, Any] = {}
        for name in _LIMITS:
            if name not in changes:
                continue
            value = changes[name]
            if value is None:
                value = getattr(defaults, name)
            elif name.endswith("seconds") and type(value) is int:
                value = float(value)
            limits[name] = value
        try:
            new_limits = replace(self.limits, **limits)
        except UsageError as exc:  # JobLimits names the field: say it as the setting
            raise UsageError(str(exc).replace("JobLimits.", "the code setting ")) from None
        return JobSettings(allowed_imports=imports, limits=new_limits)


def _imports(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise UsageError(
            "allowed_imports must be a list of top-level module names, e.g. "
            f"['numpy', 'pandas'], got {value!r}"
        )
    for name in value:
        if not isinstance(name, str) or not name.isidentifier():
            raise UsageError(
                f"allowed_imports holds top-level module names (no dots), got {name!r}"
            )
    return tuple(dict.fromkeys(value))


def load(node: Node, limits: JobLimits | None = None) -> JobSettings:
    """The node's settings: the stored ones over the defaults; ``limits``, when given (the
    node's constructor), replaces the stored limits."""
    stored = dict(node.stores.settings.get(SETTINGS_KEY) or {})
    settings = JobSettings()
    for name, value in stored.items():  # one by one: a value refused leaves the others
        try:
            settings = settings.changed({name: value})
        except UsageError as exc:  # written by another version: the default for this one
            log.warning("node %r: the stored code setting %r is ignored: %s", node.name, name, exc)
    return settings if limits is None else replace(settings, limits=limits)


@typed_route(CODE_SETTINGS, ADMINS)
def code_settings(node: Node, principal: Principal, request: CodeSettingsRequest) -> CodeSettings:
    """The imports and limits of every job; owners and admins change them (None: the
    default). Jobs started after the change get the new settings."""
    changes = {
        f.name: getattr(request, f.name)
        for f in fields(request)
        if getattr(request, f.name) is not UNSET
    }
    if changes:
        with node.job_settings_lock:
            settings = node.job_settings.changed(changes)
            node.stores.settings.set(SETTINGS_KEY, settings.stored())
            node.job_settings = settings
        shown = ",".join(f"{k}={v}" for k, v in changes.items())
        node.audit(principal, "code.settings", shown[:500])
    return node.job_settings.shown()
