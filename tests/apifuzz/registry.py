"""All registries merged: ``ENTRIES`` (name -> Entry), ``EXEMPT`` (name -> reason), ``KINDS`` (kind -> bad values)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from .common import BAD

AREAS = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("registry_"))


def load():
    entries, exempt, kinds = {}, {}, dict(BAD)
    for area in AREAS:
        module = importlib.import_module(f"{__package__}.{area}")
        for name, entry in getattr(module, "ENTRIES", {}).items():
            assert name not in entries, f"{name} registered twice (again in {area})"
            entries[name] = entry
        for name, reason in getattr(module, "EXEMPT", {}).items():
            assert name not in exempt, f"{name} exempted twice (again in {area})"
            exempt[name] = reason
        for kind, values in getattr(module, "KINDS", {}).items():
            assert kind not in kinds, f"bad-value kind {kind!r} defined twice (again in {area})"
            kinds[kind] = values
    return entries, exempt, kinds


def cases(entries, kinds):
    """(name, argument, kind) for every fuzzed argument of every entry, in a stable order."""
    out = []
    for name in sorted(entries):
        for arg, kind in entries[name].kinds.items():
            assert kind in kinds, f"{name}: argument {arg!r} has unknown kind {kind!r}"
            out.append((name, arg, kind))
    return out
