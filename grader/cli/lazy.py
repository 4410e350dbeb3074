"""A click group whose subcommands are imported on first use, so no command pays for another's imports."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any, NamedTuple

import click
from click.utils import make_default_short_help


class LazyCommand(NamedTuple):
    """Where a subcommand lives (``"package.module:attribute"``) and its line in the group's help."""

    target: str
    help: str

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class LazyCommands(MutableMapping[str, click.Command]):
    """``Group.commands`` holding every name from the start and importing a command when it is
    looked up, so click's own lookup, listing and did-you-mean (and ``main.commands["grade"]``)
    see every command."""

    def __init__(self, table: Mapping[str, LazyCommand]) -> None:
        self.table = dict(table)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            self._loaded[name] = self.table[name].load()
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self.table.pop(name, None)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self.table, *self._loaded]))

    def __len__(self) -> int:
        return len(set(self.table) | set(self._loaded))

    def __contains__(self, name: object) -> bool:
        return name in self.table or name in self._loaded


class LazyGroup(click.Group):
    """A group built from a table of :class:`LazyCommand`; its help lists the table's lines, so it
    never imports a command (one added with ``add_command`` shows its own short help)."""

    commands: LazyCommands

    def __init__(self, *args: Any, commands: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        rows = []
        for name in names:
            if name in self.commands.table:
                rows.append((name, make_default_short_help(self.commands.table[name].help, limit)))
            elif not (command := self.commands[name]).hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
