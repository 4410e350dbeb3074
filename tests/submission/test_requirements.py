"""Pins compared as PEP 440 ``==`` does, in the contract check and in the report's environment check."""

from __future__ import annotations

import pytest

from grader.evaluate.reproducibility import environment
from grader.paths import tasks_dir
from grader.sandbox.docker.image import LOCK_FILE
from grader.submission import requirements
from grader.submission.requirements import Pin, read_lock, satisfies

#: What the runtime image reports installed: torch is the CPU build, with its local label.
INSTALLED = {**read_lock(LOCK_FILE), "torch": "2.13.0+cpu"}


@pytest.mark.parametrize("pinned, installed, ok", [
    ("2.13.0", "2.13.0+cpu", True),  # a pin without a local label: any local label satisfies it
    ("2.13.0", "2.13.0", True),
    ("2.13", "2.13.0", True),  # PEP 440 pads with zeros
    ("2.13.0+cpu", "2.13.0+cpu", True),
    ("2.13.0+cpu", "2.13.0", False),  # a pin with a local label must match it exactly
    ("2.13.0+cu121", "2.13.0+cpu", False),
    ("2.12.0", "2.13.0+cpu", False),
    ("1.0rc1", "1.0rc1", True),
    ("1.0", "not-a-version", False),  # a broken runtime version: only an exact string matches
])
def test_pins_are_compared_as_pep440_says(pinned, installed, ok):
    assert satisfies(pinned, installed) is ok


def test_the_runtime_lock_pins_torch_without_its_local_label():
    assert read_lock(LOCK_FILE)["torch"] == "2.13.0"


def test_the_cv_reference_pins_match_the_installed_cpu_build():
    """The CV reference pins torch==2.13.0, as the kit says; the image reports 2.13.0+cpu."""
    text = (tasks_dir() / "cv" / "fashion-mnist" / "examples" / "reference" / "requirements.txt").read_text()
    pins, problems = requirements.parse(text)
    assert problems == [] and Pin("torch", "2.13.0", 2) in pins
    assert requirements.mismatches(pins, INSTALLED) == []
    check = environment(pins, INSTALLED, read_lock(LOCK_FILE))
    assert check.mismatches == [] and check.checked_against == "the runtime image's installed packages"


def test_a_pin_that_differs_is_a_mismatch_in_both_checks():
    pins, _ = requirements.parse("torch==2.12.0\nnumpy==2.4.6\ntorch-extra==1.0\nTorch==2.13.0+cu121\n")
    assert requirements.mismatches(pins, INSTALLED) == [
        "torch==2.12.0 is pinned but the sandbox runtime has torch==2.13.0+cpu: pin torch==2.13.0",
        "torch-extra==1.0 is not installed in the sandbox runtime",
        "torch==2.13.0+cu121 is pinned but the sandbox runtime has torch==2.13.0+cpu: pin torch==2.13.0"]
    check = environment(pins, INSTALLED, None)
    assert [(m.name, m.pinned, m.runtime) for m in check.mismatches] == [
        ("torch", "2.12.0", "2.13.0+cpu"), ("torch-extra", "1.0", None), ("torch", "2.13.0+cu121", "2.13.0+cpu")]


def test_runtime_names_are_normalised_too():
    pins, _ = requirements.parse("scikit-learn==1.8.0\n")
    assert requirements.mismatches(pins, {"Scikit_Learn": "1.8.0"}) == []


@pytest.mark.parametrize("line", ["torch==2.13.0.cpu", "numpy==2.4.6-final-x", "pandas==v3_0_6_x"])
def test_an_invalid_version_is_a_problem_saying_how_to_write_it(line):
    pins, problems = requirements.parse(f"# pins\n{line}\n", "requirements.txt")
    assert pins == [] and len(problems) == 1
    assert problems[0].startswith(f"requirements.txt line 2: {line!r}: ")
    assert "is not a valid version (PEP 440)" in problems[0] and "for example numpy==2.4.6" in problems[0]
