"""Command-line options made from a msgspec Struct: one option a field, its help the field's
description, so an adapter declares its params once (stages/sources/__init__.py)."""

from collections.abc import Callable
from typing import Any

import click
import msgspec
from msgspec import inspect

F = Callable[..., Any]


def _option(field: inspect.Field) -> Callable[[F], F]:
    kind, help = field.type, None
    if isinstance(kind, inspect.Metadata):
        help = (kind.extra_json_schema or {}).get("description")
        kind = kind.type
    flag = "--" + field.name.replace("_", "-")
    default = None if field.default is msgspec.NODEFAULT else field.default
    if isinstance(kind, inspect.UnionType):
        kinds = [t for t in kind.types if not isinstance(t, inspect.NoneType)]
        kind = kinds[0] if len(kinds) == 1 else kind
    if isinstance(kind, inspect.LiteralType):
        return click.option(
            flag,
            type=click.Choice([str(v) for v in kind.values]),
            default=default,
            show_default=True,
            help=help,
        )
    if isinstance(kind, inspect.VarTupleType | inspect.ListType):
        return click.option(flag, multiple=True, default=default or (), help=help)
    if isinstance(kind, inspect.BoolType):
        return click.option(
            f"{flag}/--no-{flag[2:]}", default=default, show_default=True, help=help
        )
    if isinstance(kind, inspect.IntType):
        return click.option(flag, type=int, default=default, show_default=True, help=help)
    if isinstance(kind, inspect.StrType):
        return click.option(flag, default=default, show_default=default is not None, help=help)
    raise TypeError(f"{field.name}: no command-line option for a field of type {kind}")


def struct_options(struct: type[msgspec.Struct]) -> list[Callable[[F], F]]:
    """One click option decorator per field of `struct`, in field order."""
    return [_option(field) for field in inspect.type_info(struct).fields]
