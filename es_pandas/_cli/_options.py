"""The options of a run as click flags, generated from their one declaration in
``es_pandas._options``: the flag's name, type, help and shown default all come from
there, so a new option reaches the command line without being named here.

A flag left out is ``None``, which is the same as an option left out: the credentials
file, the environment or the default decides, exactly as in Python.
"""

from __future__ import annotations

import ast
import re
import shlex
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import click

from .._column_types import shown
from .._options import OPTIONS, Option, help_text

__all__ = ["cli_words", "flags", "to_options"]

F = Callable[..., Any]


def _members(kind: Any) -> tuple[Any, ...]:
    union = typing.get_origin(kind) in (typing.Union, type(int | str))
    return typing.get_args(kind) if union else (kind,)


# A listed name in double quotes, a doubled one a quote inside, spaces around them
_QUOTED = re.compile(r'\s*"((?:[^"]|"")*)"\s*(?=,|$)')


def _columns(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """Comma-separated names, trimmed ("a, b"), unless in double quotes, as CSV quotes
    them: '"Betrag ",Menge' names an Excel header with its space, '"a,b"' a name with a
    comma, '" "' one of a space."""
    if value is None:
        return None
    # "" is a list of no columns, as "," is: an empty shell variable ("$COLUMNS") must
    # not read as the option left out (for --value-cols, every column)
    names: list[str] = []
    at = 0
    while at <= len(value):
        quoted = _QUOTED.match(value, at)
        if quoted:
            names.append(quoted[1].replace('""', '"'))
            at = quoted.end() + 1
            continue
        end = value.find(",", at)
        end = len(value) if end < 0 else end
        name = value[at:end].strip()
        if name.startswith('"'):
            closed = re.match(r'"(?:[^"]|"")*"[^,]*', value[at:].strip())
            raise click.BadParameter(
                f"{shown(closed[0].strip())} has text after its closing quote"
                if closed
                else f"a double quote opens {shown(value[at:].strip())} and none closes"
            )
        if name:
            names.append(name)
        at = end + 1
    return names


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _help(option: Option, names: Sequence[str]) -> str:
    """``option``'s help for a command with the options ``names``: the others it
    refers to are produce's flags (produce has every flag)."""

    def spelled(name: str) -> str:
        return _cli_name(name) if name in names else f"produce's {_cli_name(name)}"

    text = help_text(option, flag=spelled)
    given = (d for d in (option.cli_default, option.default) if d is not None)
    default = option.shows or str(next(given, ""))
    notes = [f"env: {', '.join(option.env)}"] if option.env else []
    notes += [f"default: {default}"] if default else []
    return f"{text} [{'; '.join(notes)}]" if notes else text


def _derived(name: str, kind: Any, option: Option, names: Sequence[str]) -> click.Option:
    """``--name`` with a click type that follows the option's Python type."""
    flag = _flag(name)
    members = _members(kind)
    help_text = _help(option, names)
    literal = next((m for m in members if typing.get_origin(m) is Literal), None)
    names = [flag, *option.aliases, name]
    if bool in members:
        names = [f"{flag}/--no-{flag[2:]}", name]
    if literal is not None:
        kind = click.Choice(typing.get_args(literal))
    else:
        kind = next((t for t in (bool, int, float) if t in members), None)
    columns = any(typing.get_origin(m) is Sequence or m is Sequence for m in members)
    if columns:
        help_text += ' Comma-separated; a name in double quotes keeps its spaces ("Betrag ").'
    return click.Option(
        names,
        type=kind,
        default=None,
        help=help_text,
        callback=_columns if columns else None,
        metavar=option.metavar or ("A,B,..." if columns else None),
    )


def _params(name: str, names: Sequence[str]) -> list[click.Option]:
    kind, option = OPTIONS[name]
    if option.no_flag:
        return []
    if option.flags is None:
        return [_derived(name, kind, option, names)]
    return [
        click.Option([flag.name, flag.dest], is_flag=True, default=False, help=help)
        if flag.kind == "switch"
        else click.Option(
            [flag.name, flag.dest],
            type=flag.type,
            default=None,
            multiple=flag.kind == "multiple",
            metavar=flag.metavar,
            help=help,
        )
        for flag in option.flags
        for help in [_help(option, names) if flag.help is None else cli_words(flag.help)]
    ]


def flags(names: Sequence[str]) -> Callable[[F], F]:
    """A decorator adding the flags of the options ``names`` to a click command."""

    def add(command: F) -> F:
        params = getattr(command, "__click_params__", [])
        for name in reversed(names):
            params.extend(reversed(_params(name, names)))
        command.__click_params__ = params  # type: ignore[attr-defined]
        return command

    return add


def to_options(values: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """Flag values (by click's parameter name) as the keyword arguments of ``names``."""
    options = {}
    for name in names:
        option = OPTIONS[name][1]
        if option.no_flag:
            continue
        if option.flags is None:
            given = values[name]
            options[name] = option.cli_default if given is None else given
        else:
            assert option.from_flags is not None
            options[name] = option.from_flags(
                {flag.dest: values[flag.dest] for flag in option.flags}
            )
    return options


def _cli_name(name: str) -> str:
    """How the command line spells an option: its first flag."""
    option = OPTIONS[name][1]
    return option.flags[0].name if option.flags else _flag(name)


def _cli_off(name: str) -> str:
    """How the command line spells ``name=False``: its --no- flag (``--no-verify``,
    ``--no-trust-env``), for an option that has one."""
    kind, option = OPTIONS[name]
    if option.flags:
        off = [flag.name for flag in option.flags if flag.name.startswith("--no-")]
        return off[0] if off else f"{_cli_name(name)} False"
    return f"--no-{_flag(name)[2:]}" if bool in _members(kind) else f"{_flag(name)} False"


# Option names in library messages -> the flags a CLI user types: ``key_col=...``,
# ``iam=True`` and ``trust_env=False`` (``--no-trust-env``) anywhere, a snake_case
# name anywhere, and any name opening a message (``verify: no CA bundle``). Never a
# name inside a flag written already: the ``format`` of ``--value-format``.
_NAMES = "|".join(sorted(OPTIONS, key=len, reverse=True))
_ASSIGNED = re.compile(rf"(?<![\w-])({_NAMES})=(?:(True\b|\.\.\.)|(False\b)| ?)")
_NAMED = re.compile(r"\b(" + "|".join(n for n in OPTIONS if "_" in n) + r")\b")
_OPENING = re.compile(rf"^({_NAMES})\b(?!=)")


# Arrow types and quoted values are data, not options: extension<arrow.fixed_shape_tensor
# [value_type=int32]>, a file's column 'record_id', its header 'sep=;'
_DATA = re.compile(r"""(<[^>]*>|(?<!\w)'(?:[^'\\]|\\.)*'(?!\w)|(?<!\w)"(?:[^"\\]|\\.)*"(?!\w))""")


# A message that names both spellings, ``resume= (--resume)``, ``resume='s.csv'
# (--resume s.csv)`` or ``cert=(certificate, key) (--client-key)``, keeps the command
# line's.
_BOTH = re.compile(rf"\b(?:{_NAMES})=(?:'[^']*'|\([^)]*\)|[^\s(]*)\s\((--[^)]*)\)")


# A mapping written as Python takes it, ``dtype={'amount': 'float'}``, is one flag per
# item on the command line: ``--dtype amount=float``.
_MAPPED = re.compile(rf"(?<![\w-])({_NAMES})=(\{{[^{{}}]*\}})")
# a mapping, or data: whichever comes first (a quoted column name or value that reads
# like a mapping, 'user={}', is data)
_MAPPED_OR_DATA = re.compile(rf"{_MAPPED.pattern}|{_DATA.pattern}")


def _mapped(name: str, written: str) -> str:
    try:
        items = ast.literal_eval(written)
    except (ValueError, SyntaxError):
        items = None
    if not isinstance(items, dict):
        return f"{_cli_name(name)} {written}"
    flag = _cli_name(name)
    return " ".join(f"{flag} {shlex.quote(f'{key}={value}')}" for key, value in items.items())


def _assigned(match: re.Match[str]) -> str:
    name, shown, off = match.groups()
    return _cli_off(name) if off else _cli_name(name) + ("" if shown else " ")


def _words(text: str) -> str:
    parts = _DATA.split(text)
    for i in range(0, len(parts), 2):  # the odd ones are data
        part = _ASSIGNED.sub(_assigned, parts[i])
        parts[i] = _NAMED.sub(lambda m: _cli_name(m.group(1)), part)
    return "".join(parts)


def cli_words(message: str) -> str:
    """A library message in the command line's words: ``key_col=`` -> ``--key-col``."""
    message = _BOTH.sub(r"\1", message)
    message = _OPENING.sub(lambda m: _cli_name(m.group(1)), message)
    # a mapping's items are data (a column may be named like an option: 'topic')
    words, at = [], 0
    for match in _MAPPED_OR_DATA.finditer(message):
        name, written, _ = match.groups()
        words += [_words(message[at : match.start()])]
        words += [match.group() if name is None else _mapped(name, written)]
        at = match.end()
    return "".join([*words, _words(message[at:])])
