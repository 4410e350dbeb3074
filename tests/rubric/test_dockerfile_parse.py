"""Parsing the candidate's Dockerfile into steps (no engine needed)."""

from __future__ import annotations

from grader.sandbox.dockerfile import parse


def test_parse_handles_comments_and_continuations():
    steps = parse("# syntax=docker/dockerfile:1\nFROM x AS build\n\nRUN a \\\n  # inside\n  && b\nCMD [\"c\"]\n")
    assert [(s.keyword, s.args, s.line) for s in steps] == [("FROM", "x AS build", 2), ("RUN", "a && b", 4),
                                                           ("CMD", '["c"]', 7)]
