"""Build-by-name registries (models and losses), in the style of ZoeDepth's model registry.

A registry maps a public name to the module that defines it. ``build(name, **options)`` imports
that module on first use (so ``import depthstudy`` stays fast) and calls the builder the module
registered with ``@registry.register(name)``. An unknown name is an error that lists valid names.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable


class Registry:
    """Name -> builder registry with lazily imported defining modules.

    Args:
        kind: what is registered ("model", "loss"); used in error messages.
        package: the package holding the defining modules, e.g. ``"depthstudy.models"``.
        modules: public name -> module name inside ``package``.
    """

    def __init__(self, kind: str, package: str, modules: dict[str, str]):
        self.kind = kind
        self.package = package
        self.modules = dict(modules)
        self._builders: dict[str, Callable[..., Any]] = {}
        self._from_profile: dict[str, Callable[[Any], dict[str, Any]]] = {}

    def register(self, name: str, from_profile: Callable[[Any], dict[str, Any]] | None = None
                 ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: register ``fn`` as the builder of ``name``.

        ``from_profile`` (detectron2's ``from_config`` habit) maps a run profile to the builder's
        size options, next to the builder; :meth:`profile_options` calls it.
        """
        if name not in self.modules:
            raise KeyError(f"{self.kind} {name!r} is not declared in the {self.package} registry table")

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            self._builders[name] = fn
            if from_profile is not None:
                self._from_profile[name] = from_profile
            return fn

        return deco

    def names(self) -> list[str]:
        """All public names, sorted."""
        return sorted(self.modules)

    def get(self, name: str) -> Callable[..., Any]:
        """The builder of ``name`` (importing its module if needed)."""
        if name not in self.modules:
            raise ValueError(f"unknown {self.kind} {name!r}; valid names: {', '.join(self.names())}")
        if name not in self._builders:
            importlib.import_module(f"{self.package}.{self.modules[name]}")
        return self._builders[name]

    def profile_options(self, name: str, profile: Any) -> dict[str, Any]:
        """The options ``name`` is built with for ``profile`` (its registered ``from_profile``)."""
        self.get(name)
        if name not in self._from_profile:
            raise ValueError(f"{self.kind} {name!r} registers no from_profile "
                             f"(see {self.package}.{self.modules[name]})")
        return dict(self._from_profile[name](profile))

    def build(self, name: str, **options: Any) -> Any:
        """Build ``name`` with keyword ``options``; unknown option names raise ``TypeError``."""
        return self.get(name)(**options)
