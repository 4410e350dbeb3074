"""Reading why a Dockerfile step failed from its output (no engine needed)."""

from __future__ import annotations

from grader.sandbox.docker.build import failure_cause

RUNTIME = {"pandas": "3.0.6", "scikit-learn": "1.8.0"}
RETRY = ("WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection "
         "broken by 'NewConnectionError('<HTTPSConnection object>: Failed to establish a new connection: [Errno -3] "
         "Temporary failure in name resolution')': /simple/{name}/\n")


def pip_output(requirement: str, name: str) -> str:
    return (RETRY.format(name=name)
            + f"ERROR: Could not find a version that satisfies the requirement {requirement} (from versions: none)\n"
            + f"ERROR: No matching distribution found for {requirement}\n")


def test_a_pin_the_runtime_has_another_version_of_is_named_with_the_version_to_use():
    cause = failure_cause(pip_output("pandas==9.9", "pandas"), RUNTIME)
    assert cause is not None
    assert "pandas==9.9 does not exist in the runtime's packages" in cause and "pin pandas==3.0.6" in cause


def test_a_package_the_runtime_lacks_is_named_as_missing_not_as_a_network_problem_only():
    cause = failure_cause(pip_output("requests==2.32.0", "requests"), RUNTIME)
    assert cause is not None
    assert cause.startswith("requests==2.32.0 is not among the runtime's packages") and "has no network" in cause


def test_names_are_compared_as_pip_does():
    cause = failure_cause(pip_output("Scikit_Learn[extra]==0.1", "scikit-learn"), RUNTIME)
    assert cause is not None and "scikit-learn==0.1 does not exist" in cause and "scikit-learn==1.8.0" in cause


def test_other_downloads_are_blamed_on_the_network_and_the_rest_on_nothing():
    assert failure_cause("curl: (6) Could not resolve host: files.example.test", RUNTIME) == \
        "the build has no network: nothing can be downloaded"
    assert failure_cause("make: *** [all] Error 2", RUNTIME) is None


def test_a_range_the_runtime_does_not_meet_names_the_version_to_pin():
    cause = failure_cause(pip_output("scikit-learn>=1.9", "scikit-learn"), RUNTIME)
    assert cause is not None and "has no network: nothing" not in cause
    assert "scikit-learn>=1.9 is not met by the runtime's scikit-learn==1.8.0" in cause
    assert cause.endswith("pin scikit-learn==1.8.0")


def test_a_package_under_another_name_is_named_by_its_real_name():
    cause = failure_cause(pip_output("sklearn==1.8.0", "sklearn"), RUNTIME)
    assert cause is not None and "has no network" not in cause
    assert "the package is called scikit-learn" in cause and "pin scikit-learn==1.8.0" in cause
    typo = failure_cause(pip_output("pandsa==3.0.6", "pandsa"), RUNTIME)
    assert typo is not None and "the package is called pandas" in typo


def test_a_pin_pip_cannot_read_says_so_with_pips_hint():
    output = ("ERROR: Invalid requirement: 'scikit-learn=1.8.0' (from line 1 of requirements.txt)\n"
              "Hint: = is not a valid operator. Did you mean == ?\n")
    cause = failure_cause(output, RUNTIME)
    assert cause == ("pip cannot read the requirement 'scikit-learn=1.8.0' (= is not a valid operator. Did you mean "
                     "== ?): write each pin as name==version")


def test_a_local_label_satisfies_the_public_version_as_in_pip():
    cause = failure_cause(pip_output("torch==2.13.0", "torch"), {"torch": "2.13.0+cpu"})
    assert cause is not None and "does not exist" not in cause


def test_an_isolated_source_build_is_named_not_blamed_on_the_network():
    output = ("Processing /workspace\n  Installing build dependencies: started\n"
              "  Installing build dependencies: finished with status 'error'\n"
              + RETRY.format(name="setuptools")
              + "ERROR: Could not find a version that satisfies the requirement setuptools>=40.8.0 (from versions: "
                "none)\nERROR: No matching distribution found for setuptools>=40.8.0\n")
    cause = failure_cause(output, {**RUNTIME, "setuptools": "84.2.1"})
    assert cause is not None and "--no-build-isolation" in cause
