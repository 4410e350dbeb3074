"""``grader serve``'s argument mistakes: each a usage error (exit 2) with its fix, said before anything starts
listening; a database that cannot be reached is the infrastructure's error (exit 4)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from grader.cli import main


@pytest.mark.parametrize(("args", "says", "code"), [
    (["--queue", "http://127.0.0.1:6379"], "redis://", 2),
    (["--queue", "redis://127.0.0.1:6379/0", "--workers", "2"], "with --queue, the workers grade", 2),
    (["--db", "mysql://u@127.0.0.1/x"], "not a database URL this service can use", 2),
    (["--db", "postgresql://nobody@127.0.0.1:1/none"], "cannot be reached", 4),
    (["--sandbox", "firecracker"], "Invalid value for '--sandbox'", 2),
], ids=["queue-url", "queue-workers", "db-scheme", "db-unreachable", "sandbox"])
def test_mistakes_are_said_before_serving(tmp_path, args, says, code):
    result = CliRunner().invoke(main, ["serve", "--data", str(tmp_path / "service"), "--port", "0", *args])
    assert result.exit_code == code, result.output
    assert says in " ".join(result.output.split()), result.output
