"""Plugin-manager factory: built-ins, entry points, then local files; a typed facade over it."""

from __future__ import annotations

import asyncio
import difflib
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

from alertbot import hookspecs
from alertbot.core.errors import PluginError
from alertbot.core.paths import config_dir

if TYPE_CHECKING:
    from alertbot.config import Config
    from alertbot.core.model import Notification
    from alertbot.notify.base import Notifier

log = logging.getLogger("alertbot.plugins")

ENTRY_POINT_GROUP = "alertbot"
DISABLE_ENV = "ALERTBOT_DISABLE_PLUGINS"
LOCAL_MODULE_PREFIX = "alertbot_local_plugins"
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("console", "alertbot.notify.builtin.console"),
    ("webhook", "alertbot.notify.builtin.webhook"),
    ("slack", "alertbot.notify.builtin.slack"),
    ("telegram", "alertbot.notify.builtin.telegram"),
    ("email", "alertbot.notify.builtin.mail"),
    ("apprise", "alertbot.notify.builtin.apprise_url"),
)
ASYNC_HOOKS = frozenset({"alertbot_startup", "alertbot_shutdown"})  # may return awaitables
_AS_HOOK = pluggy.HookimplOpts(
    wrapper=False,
    hookwrapper=False,
    optionalhook=False,
    tryfirst=False,
    trylast=False,
    specname=None,
)


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """What `alertbot plugins` shows for one plugin."""

    name: str
    origin: str  # "builtin", "entry point NAME = module:attr", or the file's path
    hooks: tuple[str, ...] = ()
    disabled: bool = False


class _Manager(pluggy.PluginManager):
    """Treats every module-level `alertbot_*` function as a hook, so a typo cannot hide."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> pluggy.HookimplOpts | None:
        """Marked functions as pluggy does; unmarked `alertbot_*` functions too (as pytest)."""
        opts = super().parse_hookimpl_opts(plugin, name)
        unmarked_hook = opts is None and name.startswith("alertbot_")
        if unmarked_hook and inspect.isfunction(getattr(plugin, name, None)):
            return dict(_AS_HOOK)  # type: ignore[return-value]  # a copy of the TypedDict
        return opts


def disabled_names(env: Mapping[str, str]) -> frozenset[str]:
    """Plugin names listed in ALERTBOT_DISABLE_PLUGINS (comma separated)."""
    return frozenset(n.strip() for n in env.get(DISABLE_ENV, "").split(",") if n.strip())


def plugins_path(config_file: str | os.PathLike[str], plugins_dir: str) -> Path:
    """The local plugins folder: relative paths are relative to the config file's folder."""
    return Path(config_dir(config_file, plugins_dir))


def make_plugin_manager(
    plugins_dir: str | os.PathLike[str] | None,
    *,
    env: Mapping[str, str] | None = None,
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> Plugins:
    """Load built-ins, installed `alertbot` entry points, then `plugins_dir/*.py`; validate."""
    env = os.environ if env is None else env
    loader = _Loader(disabled_names(env))
    for name, module in BUILTIN_PLUGINS:
        loader.add(name, "builtin", lambda module=module: importlib.import_module(module))
    eps = _entry_points() if entry_points is None else entry_points
    for ep in eps:
        loader.add(ep.name, f"entry point {ep.name} = {ep.value}", ep.load)
    for path in _local_files(plugins_dir):
        loader.add(path.stem, str(path), lambda path=path: _import_file(path))
    loader.pm.check_pending()  # every hook was checked plugin by plugin; this guards the rest
    unknown = loader.disabled - {i.name for i in loader.infos}
    if unknown:
        log.warning("%s names unknown plugins: %s", DISABLE_ENV, ", ".join(sorted(unknown)))
    return Plugins(loader.pm, loader.infos)


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)


def _local_files(plugins_dir: str | os.PathLike[str] | None) -> list[Path]:
    """`*.py` files directly in the folder (never subfolders), `_`-prefixed ones skipped."""
    if plugins_dir is None or not Path(plugins_dir).is_dir():
        return []
    files = Path(plugins_dir).glob("*.py")
    return sorted(p for p in files if not p.name.startswith("_") and p.is_file())


def _import_file(path: Path) -> ModuleType:
    """Import one local plugin file under a private module name."""
    name = f"{LOCAL_MODULE_PREFIX}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic and dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


class _Loader:
    """Registers plugins one at a time and checks each as it arrives, naming its origin."""

    def __init__(self, disabled: frozenset[str]) -> None:
        self.pm = _Manager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.disabled = disabled
        self.infos: list[PluginInfo] = []
        self.origins: dict[str, str] = {}

    def add(self, name: str, origin: str, load: Any) -> None:
        """Import (unless disabled), register and validate one plugin."""
        if name in self.disabled:
            self.pm.set_blocked(name)
            self.infos.append(PluginInfo(name, origin, disabled=True))
            return
        if name in self.origins:
            raise PluginError(
                f"{origin}: plugin name {name!r} is already used by {self.origins[name]}"
            )
        try:
            plugin = load()
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(f"{origin}: cannot load plugin {name!r}: {_brief(exc)}") from exc
        try:
            self.pm.register(plugin, name=name)
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"{origin}: plugin {name!r}: {exc}") from exc
        hooks = _check_hooks(self.pm, plugin, name, origin)
        self.origins[name] = origin
        self.infos.append(PluginInfo(name, origin, hooks))


def _brief(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"


def _check_hooks(
    pm: pluggy.PluginManager, plugin: object, name: str, origin: str
) -> tuple[str, ...]:
    """Unknown hook names, wrappers and `async def` where the core will not await: PluginError."""
    known = [n for n in dir(hookspecs) if n.startswith("alertbot_")]
    hooks = []
    for caller in pm.get_hookcallers(plugin) or []:
        if not caller.has_spec():
            hint = difflib.get_close_matches(caller.name, known, n=1)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            raise PluginError(f"{origin}: unknown hook {caller.name!r}{suggestion}")
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin:
                _check_impl(impl, caller.name, origin)
        hooks.append(caller.name)
    return tuple(sorted(hooks))


def _check_impl(impl: pluggy.HookImpl, hook: str, origin: str) -> None:
    if impl.wrapper or impl.hookwrapper:
        raise PluginError(f"{origin}: {hook}: hook wrappers are not supported")
    if hook not in ASYNC_HOOKS and inspect.iscoroutinefunction(impl.function):
        raise PluginError(f"{origin}: {hook} must be a plain def (the core does not await it)")


class Plugins:
    """Typed calls into the loaded plugins; one failing implementation never stops the others."""

    def __init__(self, pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
        self.pm = pm
        self.infos = tuple(infos)
        self._types: dict[str, tuple[str, type[Notifier]]] | None = None

    def _impls(self, hook: str) -> list[pluggy.HookImpl]:
        """Implementations in call order: local files first, then entry points, then built-ins."""
        caller: pluggy.HookCaller = getattr(self.pm.hook, hook)
        return list(reversed(caller.get_hookimpls()))

    def _each(self, hook: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """(plugin name, result) per implementation that did not raise."""
        for impl in self._impls(hook):
            ok, result = _call(impl, hook, kwargs)
            if ok:
                yield impl.plugin_name, result

    def notifier_types(self) -> dict[str, type[Notifier]]:
        """Every notifier class the plugins registered, by `type` name (computed once)."""
        return {name: cls for name, (_, cls) in self._registered().items()}

    def type_owners(self) -> dict[str, str]:
        """Notifier type name -> the plugin that registered it (for `alertbot plugins`)."""
        return {name: plugin for name, (plugin, _) in self._registered().items()}

    def _registered(self) -> dict[str, tuple[str, type[Notifier]]]:
        if self._types is None:
            found: dict[str, tuple[str, type[Notifier]]] = {}
            hook = "alertbot_register_notifier_types"
            for impl in self._impls(hook):
                _call(impl, hook, {"register": _registrar(found, impl.plugin_name)})
            self._types = dict(sorted(found.items()))
        return self._types

    def enrich(self, notification: Notification) -> Notification:
        """Merge plugins' extra fields into the labels (rule labels and earlier plugins win)."""
        extra: dict[str, str] = {}
        for plugin, fields in self._each("alertbot_enrich_alert", notification=notification):
            if fields is None:
                continue
            if not isinstance(fields, Mapping):
                log.error(
                    "plugin %s: alertbot_enrich_alert returned %s, not a mapping",
                    plugin,
                    type(fields).__name__,
                )
                continue
            for key, value in fields.items():
                extra.setdefault(str(key), str(value))
        if not extra:
            return notification
        return replace(notification, labels={**extra, **notification.labels})

    def render(self, notification: Notification, notifier_type: str) -> tuple[str, str] | None:
        """The first plugin's (title, body) for this notifier type, or None for the default."""
        for plugin, result in self._each(
            "alertbot_render", notification=notification, notifier_type=notifier_type
        ):
            if result is None:
                continue
            if (
                isinstance(result, tuple)
                and len(result) == 2
                and all(isinstance(x, str) for x in result)
            ):
                return (result[0], result[1])
            log.error("plugin %s: alertbot_render must return (title, body) or None", plugin)
        return None

    async def startup(self, config: Config, *, per_hook: float = 10.0) -> None:
        """Call alertbot_startup everywhere; await what returns an awaitable, each bounded."""
        await self._lifecycle("alertbot_startup", per_hook, config=config)

    async def shutdown(self, *, per_hook: float = 10.0) -> None:
        """Call alertbot_shutdown everywhere; await what returns an awaitable, each bounded."""
        await self._lifecycle("alertbot_shutdown", per_hook)

    async def _lifecycle(self, hook: str, per_hook: float, **kwargs: Any) -> None:
        for plugin, result in self._each(hook, **kwargs):
            if not inspect.isawaitable(result):
                continue
            try:
                async with asyncio.timeout(per_hook):
                    await result
            except TimeoutError:
                log.error("plugin %s: %s took longer than %ss; moving on", plugin, hook, per_hook)
            except Exception:
                log.exception("plugin %s: %s failed; the other plugins still run", plugin, hook)


def _call(impl: pluggy.HookImpl, hook: str, kwargs: Mapping[str, Any]) -> tuple[bool, Any]:
    """Call one implementation; log its failure with the plugin's name (PluginError propagates)."""
    try:
        return True, impl.function(*(kwargs[a] for a in impl.argnames))
    except PluginError:
        raise
    except Exception:
        log.exception("plugin %s: %s failed; the others still run", impl.plugin_name, hook)
        return False, None


def _registrar(found: dict[str, tuple[str, type[Notifier]]], plugin: str) -> Any:
    """The `register` callback handed to one plugin: checks the class, refuses duplicates."""
    from alertbot.notify.base import Notifier
    from alertbot.notify.config import NotifierConfig

    def register(cls: type[Notifier]) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Notifier)):
            raise PluginError(f"plugin {plugin}: {cls!r} is not a Notifier subclass")
        if not isinstance(getattr(cls, "type", None), str):
            raise PluginError(f"plugin {plugin}: {cls.__name__}.type must be a string")
        model = getattr(cls, "config_model", None)
        if not (isinstance(model, type) and issubclass(model, NotifierConfig)):
            raise PluginError(
                f"plugin {plugin}: {cls.__name__}.config_model must subclass NotifierConfig"
            )
        if cls.type in found:
            other = found[cls.type][0]
            raise PluginError(
                f"notifier type {cls.type!r} is registered by two plugins: {other} and {plugin}"
            )
        found[cls.type] = (plugin, cls)

    return register
