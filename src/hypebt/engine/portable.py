"""A strategy class that cannot be imported (typed into a notebook cell) travelling to sweep workers.

A worker process that did not run the cell (spawned, or a Dask worker) cannot import the class.
cloudpickle would send it by value, but Backtrader's metaclasses give every strategy class generated
classes (its ``params``, ``lines``...) registered in Backtrader's modules under names that depend on
what the process defined before (a cell run twice makes ``..._Dip1``): a fresh worker has none of
them. So such a class travels as its recipe (:class:`Recipe`: the metaclass, its name and bases, its
body with the declarations as plain values, its functions detached from the class) and is built
again in the worker, where the metaclasses generate what they need.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

from hypebt.engine.bt_adapter import declarations

# Attributes Python or Backtrader's metaclasses make for a class (rebuilt with it, never sent).
MADE = {"__dict__", "__weakref__", "__module__", "__qualname__", "params", "lines", "plotinfo", "plotlines",
        "linealias", "alias", "aliased", "packages", "frompackages"}


def importable(cls) -> bool:
    """True when a fresh process can import ``cls`` by its module and name (not a ``__main__`` class)."""
    module = sys.modules.get(cls.__module__)
    if cls.__module__ == "__main__" or module is None or getattr(module, "__file__", None) is None:
        return False
    obj = module
    for part in cls.__qualname__.split("."):
        obj = getattr(obj, part, None)
    return obj is cls


def _functions(value):
    """The plain functions inside a class attribute (a method, a static or class method, a property)."""
    if isinstance(value, types.FunctionType):
        return [value]
    if isinstance(value, (staticmethod, classmethod)):
        return [value.__func__]
    if isinstance(value, property):
        return [f for f in (value.fget, value.fset, value.fdel) if f is not None]
    return []


def _detach(fn: types.FunctionType) -> types.FunctionType:
    """``fn`` with its ``__class__`` cell (zero-argument ``super()``) emptied: it no longer holds the
    class, which is rebuilt and put back by :meth:`Recipe.build`."""
    if "__class__" not in fn.__code__.co_freevars:
        return fn
    cells = tuple(types.CellType() if name == "__class__" else cell
                  for name, cell in zip(fn.__code__.co_freevars, fn.__closure__))
    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, cells)
    new.__kwdefaults__, new.__qualname__, new.__doc__, new.__module__ = (fn.__kwdefaults__, fn.__qualname__,
                                                                         fn.__doc__, fn.__module__)
    new.__dict__.update(fn.__dict__)
    return new


def _rewrap(value, detached: dict):
    if isinstance(value, types.FunctionType):
        return detached[id(value)]
    if isinstance(value, staticmethod):
        return staticmethod(detached[id(value.__func__)])
    if isinstance(value, classmethod):
        return classmethod(detached[id(value.__func__)])
    if isinstance(value, property):
        return property(*(detached.get(id(f)) if f is not None else None for f in (value.fget, value.fset,
                                                                                   value.fdel)), value.__doc__)
    return value


@dataclass
class Recipe:
    """How to build a strategy class again: ``metaclass(name, bases, body)``, then its functions'
    ``__class__`` cells set to the new class."""

    metaclass: type
    name: str
    qualname: str
    module: str
    bases: tuple
    body: dict

    @classmethod
    def of(cls, klass) -> Recipe:
        detached = {id(f): _detach(f) for v in klass.__dict__.values() for f in _functions(v)}
        body = {k: _rewrap(v, detached) for k, v in klass.__dict__.items() if k not in MADE}
        body.update({k: v for k, v in declarations(klass).items() if v})
        return cls(type(klass), klass.__name__, klass.__qualname__, klass.__module__, klass.__bases__, body)

    def build(self):
        body = dict(self.body, __module__=self.module, __qualname__=self.qualname)
        klass = self.metaclass(self.name, self.bases, body)
        for value in klass.__dict__.values():
            for fn in _functions(value):
                if "__class__" in fn.__code__.co_freevars:
                    fn.__closure__[fn.__code__.co_freevars.index("__class__")].cell_contents = klass
        return klass
