"""The MLflow store a user's gradings share, stores that are read and never created, the failure-kinds tag,
and `grader review` bringing the reviewed run up to date, all on real SQLite stores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from grader.cli import main
from grader.errors import UsageError
from grader.integrations.mlflow import (
    FAILURE_KINDS_TAG,
    Tracking,
    default_uri,
    download_reports,
    log_grading,
    logged_where,
    prepare_store,
    require_store,
    tags,
)
from grader.report.write import write_reports
from grader.spec.report import Report
from tests.integrations.test_mlflow import free_port
from tests.report import load_fixture


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """The user's data dir, in a temp folder; MLFLOW_TRACKING_URI unset so the default is the one used."""
    folder = tmp_path / "data"
    monkeypatch.setenv("GRADER_DATA_DIR", str(folder))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return folder


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200", **(env or {})})


# -- one store per user ----------------------------------------------------------------------------

def test_the_default_store_is_the_users_whatever_the_working_folder(data_dir, tmp_path, monkeypatch):
    uris = set()
    for here in ("a", "b/c"):
        (tmp_path / here).mkdir(parents=True)
        monkeypatch.chdir(tmp_path / here)
        uris.add(Tracking().resolved_uri)
    assert uris == {f"sqlite:///{data_dir}/mlflow.db"} == {default_uri()}
    assert prepare_store(Tracking()) == f"sqlite:///{data_dir}/mlflow.db" and (data_dir / "mlflow.db").is_file()
    assert not (tmp_path / "b" / "c" / "mlflow.db").exists()


def test_without_grader_data_dir_it_follows_xdg_then_home(tmp_path, monkeypatch):
    from grader.paths import data_dir

    monkeypatch.delenv("GRADER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == tmp_path / "xdg" / "grader"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home" / ".local" / "share" / "grader"
    assert default_uri() == f"sqlite:///{tmp_path}/home/.local/share/grader/mlflow.db"


def test_the_uri_given_or_in_the_environment_still_wins(data_dir, tmp_path, monkeypatch):
    assert Tracking(f"sqlite:///{tmp_path}/given.db").resolved_uri == f"sqlite:///{tmp_path}/given.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert Tracking().resolved_uri == "http://127.0.0.1:5000"


def test_the_summary_says_where_the_grading_was_logged(tmp_path):
    report = load_fixture("reference")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run_id = log_grading(report, None, Tracking(uri))
    line = logged_where(report, Tracking(uri))
    assert run_id is not None and run_id in line and uri in line and "tabular/credit-default" in line
    assert "--no-mlflow" in logged_where(load_fixture("reference"), None)


# -- reading never creates a store -----------------------------------------------------------------

def test_compare_mlflow_with_no_store_there_creates_none(tmp_path):
    db = tmp_path / "nowhere" / "mlflow.db"
    result = invoke("compare", "--mlflow", "tabular/credit-default", "--mlflow-uri", f"sqlite:///{db}")
    assert result.exit_code == 2, result.output
    assert f"no MLflow store at {db}" in result.output and "--mlflow-uri" in result.output
    assert not db.exists() and not db.parent.exists()


def test_compare_mlflow_before_the_default_store_was_ever_used(data_dir):
    result = invoke("compare", "--mlflow", "tabular/credit-default")
    assert result.exit_code == 2 and "the default store: no grading has logged to it yet" in result.output
    assert not (data_dir / "mlflow.db").exists()
    with pytest.raises(UsageError):
        download_reports(Tracking(), "tabular/credit-default", data_dir / "dl")
    assert not data_dir.exists()


def test_an_existing_store_is_read(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    prepare_store(Tracking(uri))
    assert require_store(Tracking(uri)) == uri


# -- failure kinds -----------------------------------------------------------------------------------

def test_runs_carry_their_failure_kinds(tmp_path):
    crashed, clean = load_fixture("crash"), load_fixture("reference")
    crashed.failures.append(crashed.failures[0].model_copy(update={"kind": "timeout"}))
    assert tags(crashed)[FAILURE_KINDS_TAG] == "crash,timeout" and tags(clean)[FAILURE_KINDS_TAG] == "none"
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run_id = log_grading(crashed, None, Tracking(uri))
    assert MlflowClient(uri).get_run(run_id).data.tags[FAILURE_KINDS_TAG] == "crash,timeout"


# -- a review updates its run --------------------------------------------------------------------------

@pytest.fixture
def logged(tmp_path) -> tuple[Path, str, str]:
    """A graded report folder whose grading is logged to a real SQLite store: (folder, uri, run id)."""
    folder, uri = tmp_path / "out" / "ada", f"sqlite:///{tmp_path}/store/mlflow.db"
    report = load_fixture("reference")
    run_id = log_grading(report, None, Tracking(uri))
    assert run_id is not None
    write_reports(report, folder)
    MlflowClient(uri).log_artifacts(run_id, str(folder))  # as a grading logs its folder
    return folder, uri, run_id


def review(folder: Path, *extra: str):
    return invoke("review", str(folder), "--criterion", "recall", "--points", "14", "--note", "fine recall",
                  "--reviewer", "carol", *extra)


def test_a_review_updates_the_run_it_reviews(logged, tmp_path):
    folder, uri, run_id = logged
    automatic = Report.model_validate_json((folder / "report.json").read_text()).score
    result = review(folder)
    assert result.exit_code == 0, result.output
    assert f"MLflow run {run_id} updated" in result.output
    reviewed = Report.model_validate_json((folder / "report.json").read_text())
    assert reviewed.score > automatic
    run = MlflowClient(uri).get_run(run_id)
    assert run.data.metrics["review.score"] == pytest.approx(reviewed.score)
    assert run.data.metrics["score"] == pytest.approx(reviewed.score)  # the latest value; the automatic one is history
    assert run.data.metrics["rubric.total"] == pytest.approx(reviewed.rubric.total)
    assert run.data.metrics["review.recall.points"] == 14
    assert run.data.tags["grader.reviewed_by"] == "carol" and run.data.tags["grader.reviewed_criterion"] == "recall"
    at = json.loads((folder / "reviews.json").read_text())["reviews"][-1]["at"]
    assert run.data.tags["grader.reviewed_at"] == at
    history = [m.value for m in MlflowClient(uri).get_metric_history(run_id, "score")]
    assert history == pytest.approx([automatic, reviewed.score])
    # compare --mlflow reads the reviewed report back, not the automatic one
    back = download_reports(Tracking(uri), "tabular/credit-default", tmp_path / "back")
    assert Report.model_validate_json(back[0].read_text()).score == pytest.approx(reviewed.score)


def test_a_review_whose_store_is_gone_is_kept_and_says_so(logged):
    folder, uri, run_id = logged
    shutil.rmtree(Path(uri.removeprefix("sqlite:///")).parent)
    result = review(folder)
    assert result.exit_code == 0, result.output
    assert f"MLflow run {run_id} not updated: no MLflow store at" in result.output and "--mlflow-uri" in result.output
    assert json.loads((folder / "reviews.json").read_text())["reviews"][-1]["reviewer"] == "carol"
    assert not Path(uri.removeprefix("sqlite:///")).exists()  # not created empty either


def test_a_review_whose_server_is_down_is_kept_and_says_why(logged, monkeypatch):
    folder, _, run_id = logged
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    result = review(folder, "--mlflow-uri", f"http://127.0.0.1:{free_port()}")
    assert result.exit_code == 0, result.output
    assert f"MLflow run {run_id} not updated: http://127.0.0.1" in result.output and "failed" in result.output
    assert len(json.loads((folder / "reviews.json").read_text())["reviews"]) == 1


def test_a_review_of_a_grading_never_logged_says_so(tmp_path):
    folder = tmp_path / "out"
    write_reports(load_fixture("reference"), folder)
    result = review(folder)
    assert result.exit_code == 0 and "not updated: the grading was not logged to MLflow" in result.output


def test_compare_mlflow_html_links_the_downloaded_reports(logged, tmp_path):
    import re
    from urllib.parse import unquote

    _, uri, run_id = logged
    page = tmp_path / "site" / "cohort.html"
    result = invoke("compare", "--mlflow", "tabular/credit-default", "--mlflow-uri", uri, "--html", str(page))
    assert result.exit_code == 0, result.output
    links = re.findall(r'<a href="([^"]+)">', page.read_text())
    assert links == [f"cohort.html.reports/{run_id}/report.html"]
    assert (page.parent / unquote(links[0])).is_file()  # kept after the command, for the page to open
