"""The contract reads ANSWERS.md headings with the rule of the rubric's parser (which layer 3 may not import):
the two must find the same sections, or a warning would contradict the points."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.paths import tasks_dir
from grader.rubric import answers
from grader.spec.task import discover_tasks, load_task
from grader.submission.validate import Question, headings, missing_sections

SHIPPED = sorted(tasks_dir().glob("*/*/examples/*/ANSWERS.md"))
TRICKY = """# Written answers

## 1. Serving Latency: what we measured
Text.

```markdown
## drift-monitoring
```

### `retraining-rollback` ###
Text.

#### explaining-errors (level 4: not a section)
## [Q2-drift-monitoring](http://example.com) **now**
~~~
## serving-latency
~~~
##no-space-heading
"""


def _questions(path: Path) -> list[Question]:
    task_root = path.parents[2]
    return [Question(q.id, q.title) for q in load_task(task_root).rubric_spec().questions()]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(tasks_dir()).as_posix())
def test_both_parsers_agree_on_the_shipped_examples(path: Path):
    text = path.read_text(encoding="utf-8")
    assert headings(text) == [a.heading for a in answers.parse(text)]
    questions = _questions(path)
    assert questions, "every shipped task asks written questions"
    parsed = answers.parse(text)
    missing = {q.id for q in questions if answers.find(parsed, q.id) is None}
    warned = {q.id for q in questions if any(f"'## {q.id}'" in w for w in missing_sections(text, questions))}
    assert warned == missing


def test_the_shipped_examples_answer_every_question():
    assert SHIPPED and {p.parents[2].relative_to(tasks_dir()).as_posix() for p in SHIPPED} == set(discover_tasks())
    for path in SHIPPED:
        assert missing_sections(path.read_text(encoding="utf-8"), _questions(path)) == [], path


def test_both_parsers_agree_on_fences_numbers_markup_and_levels():
    assert headings(TRICKY) == [a.heading for a in answers.parse(TRICKY)]
    ids = ["serving-latency", "drift-monitoring", "retraining-rollback", "explaining-errors", "no-space-heading"]
    parsed = answers.parse(TRICKY)
    questions = [Question(i, i) for i in ids]
    warned = {q.id for q in questions if missing_sections(TRICKY, [q])}
    assert warned == {i for i in ids if answers.find(parsed, i) is None} == {"explaining-errors"}
