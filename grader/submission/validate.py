"""The submission contract's rules (contract section 1), each violation a message to act on."""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Iterator, Sequence
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

# ANSWERS.md headings, read with the rule of ``grader.rubric.answers`` (``parse``, ``slug``, ``find``), which
# this layer may not import; tests/submission/test_answer_sections.py checks that the two agree.
HEADING = re.compile(r"^(#{1,6})\s*(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
MARKUP = re.compile(r"(\*\*|__|\*|`|<[^>]+>)")


@dataclass(frozen=True)
class Question:
    """A written question of the task's rubric, as the contract needs it: its id (the ``## <id>`` heading of
    ANSWERS.md) and its title, to name it in a warning."""

    id: str
    title: str


@dataclass
class Validation:
    """What the checks found: ``problems`` make the submission invalid, ``warnings`` do not."""

    manifest: Manifest | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pins: list[requirements.Pin] = field(default_factory=list)
    #: The task submission.yaml names, also when the manifest breaks other rules: an invalid submission is
    #: still filed under its task.
    task: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.manifest is not None


#: A submission.yaml larger than this is not read for its task (the contract's manifest is a few lines).
MANIFEST_MAX_BYTES = 64 * 1024


def _named_task(data: object) -> str | None:
    task = data.get("task") if isinstance(data, dict) else None
    return task.strip() if isinstance(task, str) and task.strip() else None


def manifest_task(root: Path) -> str | None:
    """The task ``root/submission.yaml`` names, read leniently (a missing field or a bad entry point does not
    matter), for a submission no validation ran on; None when the file is missing, too large, not YAML or
    names no task."""
    path = root / MANIFEST
    try:
        if not path.is_file() or path.stat().st_size > MANIFEST_MAX_BYTES:
            return None
        return _named_task(read_yaml(path, SubmissionError))
    except (GraderError, OSError):
        return None


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


def _module_file(root: Path, module: str) -> Path | None:
    """The file ``import module`` runs from ``root``: a package's ``__init__.py`` before a ``.py`` file, as Python
    looks them up."""
    base = root.joinpath(*module.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _stored(targets: Sequence[ast.expr]) -> Iterator[str]:
    """The names an assignment target binds (``a, *b = ...``), not the ones it reads (``x[i] = ...``)."""
    return (n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))


def _bound(statements: Sequence[ast.stmt]) -> Iterator[str]:
    """Names the statements bind at module level, into ``if``/``try``/``with``/loop bodies (still module level),
    never into functions or classes. ``*`` stands for an import that binds names unknown here."""
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if not isinstance(node, ast.AnnAssign) or node.value is not None:  # `x: int` alone binds nothing
                yield from _stored(targets)
        elif isinstance(node, ast.Import):
            yield from ((a.asname or a.name.split(".")[0]) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield from (a.asname or a.name for a in node.names)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            yield from _stored([item.optional_vars for item in node.items if item.optional_vars is not None])
        if isinstance(node, ast.Match):
            for case in node.cases:
                yield from _bound(case.body)
        for body in ("body", "orelse", "finalbody"):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                yield from _bound(getattr(node, body, []))
        for handler in getattr(node, "handlers", []):
            yield from _bound(handler.body)


def _parsed(path: Path, shown: str, v: Validation) -> ast.Module | None:
    """The module's syntax tree, never importing or running it; a syntax error is a problem naming the line."""
    try:
        return ast.parse(path.read_bytes(), filename=shown, feature_version=(3, 11))
    except SyntaxError as exc:
        where = f" line {exc.lineno}" if exc.lineno else ""
        v.problems.append(f"{MANIFEST}: the predict module {shown}{where} has a syntax error ({exc.msg}), so the "
                          "grader could not import it: fix it (the sandbox runs Python 3.11)")
    except ValueError as exc:  # null bytes
        v.problems.append(f"{MANIFEST}: the predict module {shown} cannot be read as Python source ({exc}): "
                          "save it as UTF-8 text")
    return None


def _check_entry_point(root: Path, m: Manifest, v: Validation) -> None:
    """The predict module exists, parses, and defines the callable at top level: found now, not after training."""
    module, name = m.predict.split(":", 1)
    path = _module_file(root, module)
    if path is None:
        v.problems.append(f"{MANIFEST}: predict module {module!r} not found: expected "
                          f"{module.replace('.', '/')}.py in the submission")
        return
    parts = module.split(".")
    for depth in range(1, len(parts)):  # importing a.b runs a/__init__.py first
        init = root.joinpath(*parts[:depth], "__init__.py")
        if init.is_file():
            _parsed(init, init.relative_to(root).as_posix(), v)
    shown = path.relative_to(root).as_posix()
    tree = _parsed(path, shown, v)
    if tree is None:
        return
    names = set(_bound(tree.body))
    if name in names or "*" in names or "__getattr__" in names:  # a star import or PEP 562 may provide it
        return
    public = sorted(n for n in names if not n.startswith("_"))
    close = difflib.get_close_matches(name, public, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else (
        f" (it defines {', '.join(public[:8])})." if public else " (it defines nothing at top level).")
    v.problems.append(f"{MANIFEST}: predict is {m.predict!r} but {shown} defines no top-level {name!r}{hint} "
                      f"Fix the name after the colon in predict, or define `def {name}(artifacts_dir)` at the top "
                      f"level of {shown}: the grader calls it with \"/artifacts\" and uses the object it returns")


def headings(text: str) -> list[str]:
    """The text of every level-2 and level-3 heading outside code fences: the sections the rubric reads."""
    out = []
    in_fence = False
    for raw in text.splitlines():
        if FENCE.match(raw):
            in_fence = not in_fence
            continue
        heading = None if in_fence else HEADING.match(raw)
        if heading and len(heading.group(1)) in (2, 3):
            out.append(heading.group(2))
    return out


def slug(text: str) -> str:
    """``## 1. Serving Latency`` -> ``1-serving-latency``: case, markup and separators do not matter."""
    text = MARKUP.sub("", LINK.sub(r"\1", text)).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def has_section(found: Sequence[str], question_id: str) -> bool:
    """Whether one of the headings answers ``question_id``: its slug is the id, maybe numbered or followed by
    a title (``## 2. drift-monitoring: what to watch``)."""
    pattern = re.compile(rf"^(?:q?\d+-)?{re.escape(question_id)}(?:-|$)")
    return any(pattern.match(slug(h)) for h in found)


def missing_sections(text: str, questions: Sequence[Question]) -> list[str]:
    """One warning per question ANSWERS.md has no ``## <id>`` section for (the rubric gives it no points)."""
    found = headings(text)
    return [f"{ANSWERS} has no '## {q.id}' section, so the written question {q.id!r} ({q.title}) will get no "
            f"points: add a heading '## {q.id}' and write the answer under it" for q in questions
            if not has_section(found, q.id)]


def validate(root: Path, *, expected_task: str | None = None, known_tasks: set[str] | None = None,
             runtime: dict[str, str] | None = None,
             questions: Sequence[Question] | Callable[[str], Sequence[Question]] | None = None) -> Validation:
    """Check every rule and collect all problems, so the candidate can fix them in one go.

    ``questions``: the task's written questions, or a function from the manifest's task id to them (the task
    is known only once submission.yaml is read); each one without a section in ANSWERS.md is a warning.
    """
    v = Validation()
    if (root / MANIFEST).is_file():
        try:
            data = read_yaml(root / MANIFEST, SubmissionError)
            v.task = _named_task(data)
            v.manifest = load_model(Manifest, data, MANIFEST, SubmissionError)
            v.task = v.manifest.task
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
    answered = answers is not None and bool(answers.strip())
    if answers is not None and not answered:
        v.problems.append(f"{ANSWERS} is empty: answer the task's written questions")

    m = v.manifest
    if m is not None:
        known = known_tasks is None or m.task in known_tasks
        if not known:
            from grader.errors import UnknownNameError

            assert known_tasks is not None
            v.problems.append(f"{MANIFEST}: {UnknownNameError('task', m.task, known_tasks)}")
        if expected_task is not None and m.task != expected_task:
            v.problems.append(f"{MANIFEST} says task {m.task!r} but it is being graded for {expected_task!r}")
        if known and answered and questions is not None:
            asked = questions(m.task) if callable(questions) else questions
            v.warnings.extend(missing_sections(answers or "", asked))
        _check_entry_point(root, m, v)
        argv = m.train_argv
        if argv[0] in PYTHON and len(argv) > 1 and not argv[1].startswith("-") and not (root / argv[1]).is_file():
            v.problems.append(f"{MANIFEST}: the train command runs {argv[1]!r}, which is not in the submission")
    return v
