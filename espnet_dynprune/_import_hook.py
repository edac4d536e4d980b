"""Lazy auto-registration of espnet_dynprune into stock ESPnet.

Activation
----------
``pip install .`` and ``pip install -e .`` both put ``espnet_dynprune.pth``
into site-packages.  Its single ``import`` line is executed by :mod:`site` at
interpreter start-up; unless disabled (see below) it imports this module and
calls :func:`install`, which inserts one :class:`AutoRegisterFinder` at the
front of :data:`sys.meta_path`.

This module imports only :mod:`sys`, :mod:`os` and the built-in
:mod:`_thread`, all already loaded when ``site`` processes ``.pth`` files, so
start-up stays cheap: torch, espnet and even :mod:`importlib` are imported
only once a watched module is imported.

Behaviour
---------
The finder is table driven.  The default table (:data:`DEFAULT_HOOKS`) is::

    espnet2.tasks.abs_task     -> espnet_dynprune.nets.safe_loading:guard_espnet
    espnet2.tasks.s2t          -> espnet_dynprune.registration:register_s2t
    espnet2.tasks.asr          -> espnet_dynprune.registration:register_asr
    espnet2.bin.s2t_inference  -> espnet_dynprune.registration:install_speech2text
    espnet_dynprune.inference.speech2text -> espnet_dynprune.registration:speech2text_imported

(the first makes ESPnet load model files with torch's safe unpickler: a model file must not
run code).

and more entries can be added with :func:`register` (removed with
:func:`unregister`).  A callback is a callable or a ``"module:attribute"``
string; strings are imported lazily, when the callback is due.

For names that are not in the table ``find_spec`` returns ``None`` at once.
For a watched name the finder never locates anything itself: it asks the
*other* finders on ``sys.meta_path`` for the spec (re-entry for the same name
in the same thread is refused, so there is no recursion), then swaps
``spec.loader`` for a thin
wrapper.  Before the module body runs, the wrapper puts the original loader
back on ``module.__loader__`` and ``module.__spec__.loader``; it then
delegates ``create_module``/``exec_module`` to the original loader (so modules
loaded from source, from bytecode only, or extension modules all work) and,
after the body has run, calls every callback for that name with the module
object.  Every execution of the module (first import, an import after it was
removed from ``sys.modules``, :func:`importlib.reload`) runs the callbacks.

Modules that are already in ``sys.modules`` when :func:`install` is called are
not re-imported; their callbacks run immediately instead.  Likewise
:func:`register` on an installed hook runs the new callback at once if its
module is already imported.

A plugin must never break its host: a callback that raises while a watched
module is imported (or while :func:`install` catches up on imported ones)
leaves the ESPnet module imported and working, without this package's
classes, and issues one :class:`AutoRegistrationWarning` naming the callback,
the module and the error (the same error is reported once per process).  An
explicit :func:`register` call on an installed hook, made by code that asked
for the plugin, raises :class:`AutoRegistrationError` instead, chained to the
original exception.

Disabling
---------
Set the environment variable ``ESPNET_DYNPRUNE_DISABLE_AUTOREGISTER=1`` (also
accepted: ``true``, ``yes``, ``on``; case-insensitive) before starting Python.
The ``.pth`` line then does not even import this module, and :func:`install`
does nothing and returns ``False``.  Unset, empty, ``0``, ``false``, ``no``
and ``off`` leave it enabled.  With the hook disabled, call the registration
functions yourself, e.g.
``espnet_dynprune.registration.register_s2t(espnet2.tasks.s2t)``.

Run as a script
---------------
``python -m espnet2.bin.s2t_inference`` runs that module through :mod:`runpy`
as ``__main__``: runpy asks the loader for the module's code and executes it
itself, and ``main()`` runs inside that code, so no callback could run first.
For the modules in :data:`RUN_AS_MAIN`, ``get_code`` therefore hands runpy a
two-line script that imports the module normally (callbacks included) and
calls its entry function, which is exactly what the module's own
``if __name__ == "__main__"`` block does.
"""

import _thread
import os
import sys

__all__ = [
    "ENV_DISABLE",
    "DEFAULT_HOOKS",
    "AutoRegistrationError",
    "AutoRegistrationWarning",
    "AutoRegisterFinder",
    "is_disabled",
    "install",
    "uninstall",
    "is_installed",
    "register",
    "unregister",
    "watched",
]

ENV_DISABLE = "ESPNET_DYNPRUNE_DISABLE_AUTOREGISTER"

# Values of ENV_DISABLE that leave the hook enabled.  The same list is
# hard-coded in espnet_dynprune.pth (which must not import this module to
# evaluate it); tests/test_import_hook.py checks that both agree.
_ENABLED_VALUES = ("", "0", "false", "no", "off")

DEFAULT_HOOKS = (
    ("espnet2.tasks.abs_task", "espnet_dynprune.nets.safe_loading:guard_espnet"),
    ("espnet2.tasks.s2t", "espnet_dynprune.registration:register_s2t"),
    ("espnet2.tasks.asr", "espnet_dynprune.registration:register_asr"),
    (
        "espnet2.bin.s2t_inference",
        "espnet_dynprune.registration:install_speech2text",
    ),
    # the subclass imports ESPnet's module, so a program importing it first lands here
    (
        "espnet_dynprune.inference.speech2text",
        "espnet_dynprune.registration:speech2text_imported",
    ),
)

# watched modules that ``python -m`` may run, and the function their
# ``if __name__ == "__main__"`` block calls
RUN_AS_MAIN = {"espnet2.bin.s2t_inference": "main"}

# watched module name -> list of callbacks (callables or "module:attr" strings)
_hooks = {}
for _name, _callback in DEFAULT_HOOKS:
    _hooks.setdefault(_name, []).append(_callback)
del _name, _callback

# names whose module body is currently being executed by a _CallbackLoader;
# that loader runs the callbacks afterwards, so nobody else must run them now.
_executing = set()

_finder = None


class AutoRegistrationError(RuntimeError):
    """A registration callback failed for a watched ESPnet module."""


class AutoRegistrationWarning(RuntimeWarning):
    """ESPnet imported, but without this package's classes: a registration callback failed."""


# messages already warned about: a cause shared by several callbacks is reported once
_warned = set()


def is_disabled(environ=None):
    """True if ``ESPNET_DYNPRUNE_DISABLE_AUTOREGISTER`` disables the hook."""
    env = os.environ if environ is None else environ
    return env.get(ENV_DISABLE, "").strip().lower() not in _ENABLED_VALUES


def _describe(callback):
    if isinstance(callback, str):
        return callback
    module = getattr(callback, "__module__", None)
    qualname = getattr(callback, "__qualname__", None)
    if module and qualname:
        return f"{module}:{qualname}"
    return repr(callback)


def _check_callback(callback):
    if isinstance(callback, str):
        module, sep, attr = callback.partition(":")
        if not (sep and module and attr):
            raise ValueError(
                f"callback string must look like 'package.module:function', "
                f"got {callback!r}"
            )
    elif not callable(callback):
        raise TypeError(f"callback must be callable or a string, got {callback!r}")


def _resolve(callback):
    if not isinstance(callback, str):
        return callback
    import importlib

    module_name, _, attr = callback.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _run_callbacks(name, module, callbacks=None, strict=False):
    """Call the callbacks; a failure warns (``strict``: raises) and the rest still run."""
    if callbacks is None:
        callbacks = tuple(_hooks.get(name, ()))
    for callback in callbacks:
        try:
            _resolve(callback)(module)
        except Exception as exc:
            cause = f"{type(exc).__name__}: {exc}"
            if strict:
                raise AutoRegistrationError(
                    f"espnet_dynprune auto-registration: callback "
                    f"{_describe(callback)!r} failed for module {name!r}: "
                    f"{cause}  (set {ENV_DISABLE}=1 to disable "
                    f"automatic registration)"
                ) from exc
            if cause not in _warned:
                _warned.add(cause)
                import warnings

                warnings.warn(
                    f"espnet_dynprune is not available in this ESPnet: callback "
                    f"{_describe(callback)!r} failed for module {name!r} ({cause}); "
                    f"{name} works without the plugin's classes (set {ENV_DISABLE}=1 "
                    f"to silence this)",
                    AutoRegistrationWarning,
                    stacklevel=2,
                )


class _CallbackLoader:
    """Wraps a module's real loader; runs the callbacks after the module body."""

    def __init__(self, loader, name):
        self.loader = loader
        self.name = name

    def __getattr__(self, attr):
        # get_code, get_source, get_filename, is_package, get_resource_reader...
        # (runpy and inspect may use these before the module is executed).
        if attr.startswith("__") or attr in ("loader", "name"):
            raise AttributeError(attr)
        return getattr(self.loader, attr)

    def __repr__(self):
        return f"<espnet_dynprune callback loader for {self.name!r}: {self.loader!r}>"

    def get_code(self, fullname):
        """Code for runpy: for RUN_AS_MAIN modules, import normally then call main."""
        entry = RUN_AS_MAIN.get(fullname)
        if entry is None:
            return self.loader.get_code(fullname)
        source = f"import importlib\nimportlib.import_module({fullname!r}).{entry}()\n"
        return compile(source, f"<python -m {fullname} via espnet_dynprune>", "exec")

    def create_module(self, spec):
        create_module = getattr(self.loader, "create_module", None)
        if create_module is None:
            return None
        return create_module(spec)

    def exec_module(self, module):
        loader = self.loader
        # Code inside the module (and everyone afterwards) sees the real loader.
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = loader
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = loader
        _executing.add(self.name)
        try:
            loader.exec_module(module)
        finally:
            _executing.discard(self.name)
        _run_callbacks(self.name, module)


class AutoRegisterFinder:
    """``sys.meta_path`` finder that attaches callbacks to watched modules."""

    def __init__(self):
        self._local = _thread._local()  # per-thread set of names being resolved

    def __repr__(self):
        return "<espnet_dynprune AutoRegisterFinder>"

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in _hooks:
            return None
        resolving = self._local.__dict__.setdefault("names", set())
        if fullname in resolving:
            return None
        resolving.add(fullname)
        try:
            spec = self._find_with_others(fullname, path, target)
        finally:
            resolving.discard(fullname)
        if spec is None:
            return None
        loader = spec.loader
        if (
            loader is None
            or isinstance(loader, _CallbackLoader)
            or not hasattr(loader, "exec_module")
        ):
            return spec
        spec.loader = _CallbackLoader(loader, fullname)
        return spec

    def _find_with_others(self, fullname, path, target):
        for finder in list(sys.meta_path):
            if isinstance(finder, AutoRegisterFinder):
                continue
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            spec = find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None

    def invalidate_caches(self):
        pass


def is_installed():
    """True if this module's finder is currently on ``sys.meta_path``."""
    return _finder is not None and any(f is _finder for f in sys.meta_path)


def install():
    """Install the finder (idempotent).  Returns True if the hook is active.

    Does nothing and returns False if ``ESPNET_DYNPRUNE_DISABLE_AUTOREGISTER``
    disables the hook.  Watched modules that are already imported get their
    callbacks run immediately.
    """
    global _finder
    if is_disabled():
        return False
    if is_installed():
        return True
    if _finder is None:
        _finder = AutoRegisterFinder()
    sys.meta_path.insert(0, _finder)
    for name in list(_hooks):
        module = sys.modules.get(name)
        if module is not None and name not in _executing:
            _run_callbacks(name, module)
    return True


def uninstall():
    """Remove the finder from ``sys.meta_path``.  Returns True if it was there."""
    removed = False
    for index in range(len(sys.meta_path) - 1, -1, -1):
        if sys.meta_path[index] is _finder:
            del sys.meta_path[index]
            removed = True
    return removed


def register(module_name, callback):
    """Watch ``module_name`` and call ``callback(module)`` after it executes.

    ``callback`` is a callable or a ``"package.module:function"`` string.  If
    the hook is installed and the module is already imported, the callback
    runs immediately (raising :class:`AutoRegistrationError` on failure; it
    stays registered either way).
    """
    _check_callback(callback)
    _hooks.setdefault(module_name, []).append(callback)
    if is_installed() and module_name not in _executing:
        module = sys.modules.get(module_name)
        if module is not None:
            _run_callbacks(module_name, module, (callback,), strict=True)


def unregister(module_name, callback=None):
    """Forget ``callback`` (all callbacks if None) for ``module_name``.

    Returns the number of callbacks removed.
    """
    callbacks = _hooks.get(module_name)
    if not callbacks:
        return 0
    if callback is None:
        removed = len(callbacks)
        callbacks.clear()
    else:
        kept = [cb for cb in callbacks if not (cb is callback or cb == callback)]
        removed = len(callbacks) - len(kept)
        callbacks[:] = kept
    if not callbacks:
        del _hooks[module_name]
    return removed


def watched():
    """Snapshot of the table: ``{module_name: (callback, ...)}``."""
    return {name: tuple(callbacks) for name, callbacks in _hooks.items()}
