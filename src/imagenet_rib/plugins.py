"""Plugins: methods, datasets (and their suites) and models registered from other packages.

A plugin is a module that, when imported, registers entries with the library's own calls
(`methods.register_method`, `data.specs.register_dataset`, `suites.register_suite`,
``models.MODELS.register``). Three ways name it, all loaded once per process:

1. an entry point of an installed distribution, in the group of the registry it fills::

       [project.entry-points."imagenet_rib.methods"]
       bitfit = "rib_example_plugin.bitfit"

   groups: ``imagenet_rib.methods``, ``imagenet_rib.datasets`` (datasets and suites),
   ``imagenet_rib.models``; a group's plugins load on the first lookup in its registry;
2. ``IMAGENET_RIB_PLUGINS=mod_a,mod_b``: importable modules, loaded on the first lookup
   in any registry;
3. ``rib --plugin MODULE`` (repeatable; also after the sub-command), or `use_plugins`: loads
   the module at once and appends it to ``IMAGENET_RIB_PLUGINS``, so the processes the run
   starts (submitit jobs of ``rib run --executor local|slurm``) load it too; under
   ``accelerate launch -m imagenet_rib`` every rank parses ``--plugin`` itself.

Registries load their built-in entries before any plugin's (see `registry.Registry`), so a
plugin reusing a built-in name fails. A plugin that fails to import raises `PluginError`
naming the plugin, where it was declared and the cause; it is never skipped, and every later
lookup raises the same error. A worked example is in ``docs/extending.md``.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import RIBError

ENV_VAR = "IMAGENET_RIB_PLUGINS"
GROUPS = ("imagenet_rib.methods", "imagenet_rib.datasets", "imagenet_rib.models")
_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class PluginError(RIBError):
    """A plugin could not be imported, or it failed while registering its entries."""


@dataclass(frozen=True)
class Plugin:
    """One imported plugin: `target` (``module`` or ``module:attr``) and where it was named."""

    target: str
    origin: str


_loaded: dict[str, Plugin] = {}  # target -> plugin (also while it imports: no re-entry)
_failed: dict[str, str] = {}  # target -> error message, raised again on every later load


@functools.cache
def _entry_points(group: str) -> tuple[Any, ...]:
    from importlib.metadata import entry_points

    return tuple(sorted(entry_points(group=group), key=lambda ep: (ep.name, ep.value)))


def env_modules() -> list[str]:
    """The modules named in ``IMAGENET_RIB_PLUGINS`` (comma-separated), in order."""
    return [m.strip() for m in os.environ.get(ENV_VAR, "").split(",") if m.strip()]


def _import(target: str, origin: str, load: Callable[[], Any], missing: str, broken: str) -> None:
    """Run `load` once for `target`; on failure remember and raise a `PluginError` that says
    `missing` (how to fix it) if the plugin's own module is absent, else `broken`."""
    if target in _failed:
        raise PluginError(_failed[target])
    if target in _loaded:
        return
    _loaded[target] = Plugin(target, origin)
    try:
        load()
    except Exception as err:
        del _loaded[target]
        module = target.split(":")[0]
        absent = isinstance(err, ModuleNotFoundError) and err.name == module
        cause = f"no module named {module!r}" if absent else f"{type(err).__name__}: {err}"
        fix = missing if absent else broken
        _failed[target] = f"plugin {target!r} ({origin}) failed to load: {cause}; {fix}"
        raise PluginError(_failed[target]) from err


def _check_module_name(name: str, origin: str) -> None:
    if not _MODULE_NAME.match(name):
        raise PluginError(
            f"plugin {name!r} ({origin}) is not a module name; give an importable module "
            f"such as 'my_package.rib_plugin' (not a file path)"
        )


def _load_modules(names: Iterable[str], origin: str) -> None:
    for name in names:
        _check_module_name(name, origin)
        _import(
            name,
            origin,
            functools.partial(importlib.import_module, name),
            f"install it or add its folder to PYTHONPATH, or stop naming it ({ENV_VAR}, --plugin)",
            f"fix the plugin, or stop naming it ({ENV_VAR}, --plugin)",
        )


def load_plugins(group: str) -> None:
    """Import the entry points of `group` and the ``IMAGENET_RIB_PLUGINS`` modules, once each.

    Called by a registry's loader after its built-ins; safe to call again (a no-op for what
    is loaded; a failed plugin raises its `PluginError` again).
    """
    if group not in GROUPS:
        raise PluginError(f"unknown plugin group {group!r}; use one of {list(GROUPS)}")
    for ep in _entry_points(group):
        dist = ep.dist
        where = f" of distribution {dist.name} {dist.version}" if dist is not None else ""
        package = dist.name if dist is not None else "its distribution"
        _import(
            ep.value,
            f"entry point {ep.name!r} in group {group}{where}",
            ep.load,
            f"reinstall or uninstall {package}",
            f"fix the plugin or uninstall {package}",
        )
    _load_modules(env_modules(), f"named in ${ENV_VAR}")


def use_plugins(modules: Iterable[str], *, origin: str = "given to use_plugins()") -> None:
    """Load `modules` as plugins now and append them to ``IMAGENET_RIB_PLUGINS``, so that
    child processes (submitit jobs, anything started from this environment) load them too."""
    names = list(dict.fromkeys(m.strip() for m in modules if m.strip()))
    if not names:
        return
    for name in names:
        _check_module_name(name, origin)
    current = env_modules()
    os.environ[ENV_VAR] = ",".join(current + [n for n in names if n not in current])
    _load_modules(names, origin)


def loaded_plugins() -> list[Plugin]:
    """The plugins imported so far, in load order."""
    return list(_loaded.values())
