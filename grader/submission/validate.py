"""The submission contract's rules (contract section 1), each violation a message to act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.errors import GraderError, SubmissionError
from grader.spec.base import load_model, read_yaml
from grader.spec.manifest import Manifest
from grader.submission import requirements

MANIFEST = "submission.yaml"
REQUIREMENTS = "requirements.txt"
ANSWERS = "ANSWERS.md"
PYTHON = {"python", "python3", "python3.11"}


@dataclass
class Validation:
    """What the checks found: ``problems`` make the submission invalid, ``warnings`` do not."""

    manifest: Manifest | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pins: list[requirements.Pin] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.manifest is not None


def _text(root: Path, name: str, v: Validation, what: str) -> str | None:
    path = root / name
    if not path.is_file():
        v.problems.append(f"{name} is missing: {what}")
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        v.problems.append(f"{name} is not UTF-8 text; save it as UTF-8")
        return None


def _module_exists(root: Path, module: str) -> bool:
    base = root.joinpath(*module.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def validate(root: Path, *, expected_task: str | None = None, known_tasks: set[str] | None = None,
             runtime: dict[str, str] | None = None) -> Validation:
    """Check every rule and collect all problems, so the candidate can fix them in one go."""
    v = Validation()
    if (root / MANIFEST).is_file():
        try:
            v.manifest = load_model(Manifest, read_yaml(root / MANIFEST, SubmissionError), MANIFEST,
                                    SubmissionError)
        except GraderError as exc:
            v.problems.append(exc.message)
    else:
        found = sorted(p.name for p in root.glob("*.y*ml"))
        extra = f" (found {', '.join(found)}; the name must be exactly {MANIFEST})" if found else ""
        v.problems.append(f"{MANIFEST} is missing at the top level of the submission{extra}")

    reqs = _text(root, REQUIREMENTS, v, "list the packages your code uses, one name==version per line")
    if reqs is not None:
        v.pins, problems = requirements.parse(reqs)
        v.problems.extend(problems)
        if runtime is not None:
            v.warnings.extend(requirements.mismatches(v.pins, runtime))
    answers = _text(root, ANSWERS, v, "answer the task's written questions, one '## <question-id>' section each")
    if answers is not None and not answers.strip():
        v.problems.append(f"{ANSWERS} is empty: answer the task's written questions")

    m = v.manifest
    if m is not None:
        if known_tasks is not None and m.task not in known_tasks:
            from grader.errors import UnknownNameError

            v.problems.append(f"{MANIFEST}: {UnknownNameError('task', m.task, known_tasks)}")
        if expected_task is not None and m.task != expected_task:
            v.problems.append(f"{MANIFEST} says task {m.task!r} but it is being graded for {expected_task!r}")
        if not _module_exists(root, m.predict_module):
            v.problems.append(f"{MANIFEST}: predict module {m.predict_module!r} not found: expected "
                              f"{m.predict_module.replace('.', '/')}.py in the submission")
        argv = m.train_argv
        if argv[0] in PYTHON and len(argv) > 1 and not argv[1].startswith("-") and not (root / argv[1]).is_file():
            v.problems.append(f"{MANIFEST}: the train command runs {argv[1]!r}, which is not in the submission")
    return v
