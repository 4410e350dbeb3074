"""``junit.xml``: the rubric as JUnit test results, so any CI shows each criterion as a test.

Shaped like pytest's ``--junitxml`` output (``testsuites > testsuite > properties, testcase``),
which every JUnit consumer reads. One ``testcase`` per rubric criterion, ``classname`` its section
and ``name`` its id; it fails when it earned less than its full points, with the explanation and
evidence as the failure's text. Without a rubric result (an invalid submission, a grader error)
each of the report's failures becomes a failing test case instead, so CI still says why: an
``error`` for the grader's own faults, a ``failure`` for the submission's.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from grader.report.format import ordered_rules, points
from grader.spec.report import CriterionResult, Report

#: Characters XML 1.0 cannot hold (control characters from a candidate's stderr, lone surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _short(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _earned_less(c: CriterionResult) -> bool:
    return round(c.points, 4) < round(c.max_points, 4)


def render(report: Report) -> str:
    rubric = report.rubric
    name = report.task.id + (f" ({rubric.id})" if rubric is not None else "")
    suite = ET.Element("testsuite", name=_xml(name))
    props = ET.SubElement(suite, "properties")
    for key, value in _properties(report).items():
        ET.SubElement(props, "property", name=key, value=_xml(value))
    cases = _criteria(report) if rubric is not None else _failures(report)
    suite.extend(cases)
    counts = {kind: sum(1 for case in cases if case.find(kind) is not None) for kind in ("failure", "error")}
    suite.attrib.update(tests=str(len(cases)), failures=str(counts["failure"]), errors=str(counts["error"]),
                        skipped="0", time=_short(report.duration_s or 0.0))
    if report.started_at:
        suite.set("timestamp", report.started_at)
    if rubric is not None and report.failures:
        ET.SubElement(suite, "system-err").text = _xml("\n\n".join(_failure_text(report, i)
                                                                   for i in range(len(report.failures))))
    root = ET.Element("testsuites", name="grader", tests=suite.attrib["tests"], failures=suite.attrib["failures"],
                      errors=suite.attrib["errors"], skipped="0", time=suite.attrib["time"])
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _properties(report: Report) -> dict[str, str]:
    props: dict[str, str] = {"status": report.status}
    if report.evaluated_on == "valid":  # a self-check is not a grade: its estimate, never a score
        if report.estimate is not None:
            props.update(estimated_score=points(report.estimate.score), estimate_basis=report.estimate.basis)
    else:
        props.update(passed=str(report.passed).lower(), score=points(report.score))
    props.update(evaluated_on=report.evaluated_on, task=report.task.id)
    if report.task.version is not None:
        props["task_version"] = str(report.task.version)
    if report.rubric is not None:
        props.update(rubric=report.rubric.id, pass_mark=_short(report.rubric.pass_mark),
                     automatic_score=points(report.rubric.automatic_total))
    if report.submission.candidate:
        props["candidate"] = report.submission.candidate
    if report.submission.sha256:
        props["submission_sha256"] = report.submission.sha256
    props.update({f"pass_rule: {r.rule}": "met" if r.met else "not met" for r in ordered_rules(report.pass_rule)})
    for i, flag in enumerate(report.integrity.flags, 1):  # not test cases: a flag fails nobody
        props[f"integrity flag {i}"] = f"{flag.kind} ({flag.severity}, needs review): {flag.message}"
    return props


def _criteria(report: Report) -> list[ET.Element]:
    assert report.rubric is not None
    cases = []
    for section in report.rubric.sections:
        for c in section.criteria:
            case = ET.Element("testcase", classname=_xml(section.id), name=_xml(c.id), time="0")
            if _earned_less(c):
                message = f"{points(c.points)} of {points(c.max_points)} points: {c.explanation}"
                failure = ET.SubElement(case, "failure", message=_xml(" ".join(message.split())), type="points")
                failure.text = _xml(_criterion_text(c))
            cases.append(case)
    return cases


def _criterion_text(c: CriterionResult) -> str:
    lines = [f"{c.title}", f"points: {points(c.points)} of {points(c.max_points)}"
             f" (automatic {points(c.automatic_points)})", f"why: {c.explanation}"]
    if c.review is not None:
        lines.append(f"reviewed by {c.review.reviewer} at {c.review.at}: {c.review.note}")
    if c.gate is not None:
        noise = ", within sampling noise: a person should decide" if c.gate.borderline else ""
        lines.append(f"to pass: {c.gate.rule} ({'met' if c.gate.met else 'not met'}{noise})")
    if c.evidence:
        lines += ["evidence:", *(f"- {e}" for e in c.evidence)]
    return "\n".join(lines)


def _failures(report: Report) -> list[ET.Element]:
    """One test case per failure of a report without rubric result, or one for the verdict itself."""
    tag = "error" if report.verdict.outcome == "error" else "failure"
    seen: dict[str, int] = {}
    cases = []
    for i, f in enumerate(report.failures):
        seen[f"{f.phase}.{f.kind}"] = seen.get(f"{f.phase}.{f.kind}", 0) + 1
        n = seen[f"{f.phase}.{f.kind}"]
        case = ET.Element("testcase", classname=f.phase, name=f.kind + (f" {n}" if n > 1 else ""), time="0")
        element = ET.SubElement(case, tag, message=_xml(" ".join(f.message.split())), type=f.kind)
        element.text = _xml(_failure_text(report, i))
        cases.append(case)
    if not cases:
        case = ET.Element("testcase", classname="grading", name="verdict", time="0")
        verdict = report.verdict
        if verdict.self_check and verdict.outcome != "passed":
            ET.SubElement(case, tag, message=_xml("; ".join(verdict.reasons) or verdict.phrase), type="self_check")
        elif not verdict.self_check and not report.passed:
            ET.SubElement(case, tag, message=f"status {report.status}, not passed", type=report.status)
        cases.append(case)
    return cases


def _failure_text(report: Report, i: int) -> str:
    f = report.failures[i]
    return f"[{f.phase}] {f.kind}: {f.message}" + (f"\n{f.detail}" if f.detail else "")
