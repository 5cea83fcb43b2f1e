"""``--help`` of every command: one plain line of help per option, no markup."""

import argparse

import pytest

from vinylmon.cli.main import build_parser


def parsers(parser: argparse.ArgumentParser, name: str = "vinylmon"):
    """``(name, parser)`` for ``parser`` and every subcommand's parser under it."""
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


ALL = dict(parsers(build_parser()))


def test_every_command_is_walked():
    assert {"vinylmon", "vinylmon grade", "vinylmon listen", "vinylmon devices",
            "vinylmon finetune", "vinylmon monitor"} <= set(ALL)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_option_has_one_line_of_help(name):
    for action in ALL[name]._actions:
        what = f"{name} {'/'.join(action.option_strings) or action.dest}"
        assert isinstance(action.help, str) and action.help.strip(), f"{what} has no help"
        assert action.help != argparse.SUPPRESS, f"{what} hides its help"
        assert "\n" not in action.help, f"{what}: more than one line of help"


@pytest.mark.parametrize("name", sorted(ALL))
def test_help_has_no_markup(name):
    text = ALL[name].format_help()
    for markup in ("``", ":mod:", ":func:", ":class:", ":data:"):
        assert markup not in text, f"{name} --help shows {markup!r}:\n{text}"
    assert ALL[name].description, f"{name} --help has no description"
