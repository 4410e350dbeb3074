"""The commands' progress lines: the time and the message, no source-file column."""

from __future__ import annotations

import re

from grader.cli import console


def test_progress_lines_carry_no_source_column():
    """rich's ``Console.log`` adds ``file.py:NNN`` at the right edge unless ``log_path`` is off."""
    with console.err.capture() as captured:
        console.err.log("Training run 1 in the sandbox")
    line = captured.get()
    assert "Training run 1 in the sandbox" in line
    assert not re.search(r"\w+\.py:\d+", line), line
