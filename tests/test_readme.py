"""The README's commands are true: every `recast` command of the README and the guide parses with
the real argument parser, and every file a README command reads was made by an earlier command."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from recast.cli import build_parser
from recast.pipeline import load_analyses

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDE = ROOT / "docs" / "guide.md"
READS = ("--slha", "--events", "--lhe", "--spec")  # options whose value is an input file
WRITES = ("-o", "--output", "--out", "--hepmc-out", "--dump-features")
POSITIONAL_INPUT = {"limit": 0, "scan": 0, "plot-exclusion": 0}  # commands whose first argument is an input


def _commands(doc: Path = README) -> list[str]:
    blocks = re.findall(r"```(?:bash|sh|console)\n(.*?)```", doc.read_text(), re.S)
    commands = []
    for block in blocks:
        text = re.sub(r"\\\n", " ", block)
        lines, heredoc = [], None
        for line in text.splitlines():
            if heredoc is not None:
                if line.strip() == heredoc:
                    heredoc = None
                continue
            match = re.search(r"<<\s*'?(\w+)'?", line)
            if match:
                heredoc = match.group(1)
            lines.append(line.split(" #")[0].strip())
        for line in lines:
            commands.extend(part.strip() for part in re.split(r"&&|;|\|", line) if part.strip())
    return commands


def test_readme_has_commands():
    assert any(c.startswith("recast run ") for c in _commands())


@pytest.mark.parametrize("command", [c for doc in (README, GUIDE) for c in _commands(doc) if c.startswith("recast ")])
def test_every_recast_command_parses(command):
    build_parser().parse_args(shlex.split(command)[1:])  # argparse exits on anything it does not know


def test_every_input_is_made_before_it_is_read():
    made: set[str] = set()
    for command in _commands():
        words = shlex.split(command)
        if words[0] in ("cat", "echo", "printf") and ">" in words:
            made.add(words[words.index(">") + 1])
            continue
        if words[0] == "mkdir":
            made.update(w for w in words[1:] if not w.startswith("-"))
            continue
        if words[0] != "recast":
            continue
        wanted = [words[i + 1] for i, w in enumerate(words[:-1]) if w in READS]
        sub = words[1]
        positional = [w for w in words[2:] if not w.startswith("-")]
        if sub in POSITIONAL_INPUT and positional:
            wanted.append(positional[POSITIONAL_INPUT[sub]])
        for path in wanted:
            if any(c in path for c in "*?$"):
                continue
            assert path in made, f"{command!r} reads {path}, which no step makes"
        for i, w in enumerate(words[:-1]):
            if w in WRITES:
                made.add(words[i + 1])
                if words[i + 1].endswith(".json"):
                    made.add(words[i + 1][:-5] + ".limits.json")
        if sub == "run" and "--out" in words:  # several analyses: DIR/<analysis>.json each
            args = build_parser().parse_args(words[1:])
            names = [*args.analysis, *(args.analyses or [])]
            if len(names) > 1 or "all" in names:
                made.update(f"{args.out}/{a.id}.json" for a in load_analyses(names))
