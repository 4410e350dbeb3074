"""Near-twins of hidden rows (grader/data/twins.py): each modality's perturbation, and the probe inputs the
timer gets, on the bundled tasks' real hidden splits."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from grader.data import splits, twins
from grader.data.files import read_npz
from grader.data.splits import INPUT_FILES, PROBE_FILE
from grader.spec.task import get_task


@pytest.fixture(scope="module")
def credit():
    return get_task("tabular/credit-default")


def test_tabular_twins_keep_dtypes_categories_and_stay_within_the_spread(credit, tmp_path):
    plan = twins.write_probe_inputs(credit, "test", tmp_path / "in", credit.seed)
    assert plan is not None
    written = pd.read_csv(tmp_path / "in" / INPUT_FILES["tabular"])
    hidden = pd.read_csv(credit.data_path("test")).drop(columns=[credit.label_column])
    assert list(written.dtypes) == list(hidden.dtypes)  # a twin parses exactly like a hidden row
    pd.testing.assert_frame_equal(written.iloc[:plan.timed], hidden)  # the hidden rows first, untouched
    raw = splits.read_table(credit, "test")
    got = pd.read_csv(tmp_path / "in" / INPUT_FILES["tabular"], dtype=str, keep_default_na=False).iloc[plan.timed:]
    src = raw.iloc[plan.twin_of][list(credit.feature_columns)]
    assert len(got) == len(plan.twin_of) == round(twins.TWIN_SHARE * plan.timed)
    for column in credit.feature_columns:
        col = twins.NumericColumn.of(raw[column])
        new, old = got[column].to_numpy(), src[column].to_numpy()
        if col is None:  # text categories and numeric ones with few levels (Time: months)
            assert (new == old).all(), column
            continue
        assert ((new == "") == (old == "")).all() and (new[old == ""] == "").all(), column  # missing stays missing
        present = old != ""
        a, b = new[present].astype(float), old[present].astype(float)
        assert (a[b == 0] == 0).all(), column  # "none" stays none
        assert np.abs(a - b).max() <= twins.JITTER_CUT * twins.JITTER * col.spread + col.step, column
        assert a.min() >= col.low and a.max() <= col.high, column
        assert set(new[present]) <= {col.format(v) for v in a}, column  # written as the column writes values
        decimals = {len(v.split(".")[1]) if "." in v else 0 for v in new[present]}
        assert decimals == {col.decimals}, column
    changed = (got.to_numpy() != src.to_numpy()).any(axis=1)
    assert changed.all()  # every twin differs from its hidden row somewhere
    moved = (got.to_numpy() != src.to_numpy()).sum(axis=1)
    assert np.median(moved) >= 3  # and in several features, not one


def test_text_twins_are_a_few_letter_edits():
    rng = np.random.default_rng(1)
    text = "The coffee came within two days and I didn't have to go to the grocery store at all."
    for _ in range(50):
        twin = twins.edit_text(text, rng)
        assert splits.normalise_text(twin) != splits.normalise_text(text)
        assert abs(len(twin) - len(text)) <= twins.TEXT_EDITS
        words, new = text.split(), twin.split()
        assert len(new) == len(words) and sum(a != b for a, b in zip(words, new, strict=True)) <= twins.TEXT_EDITS
        assert all(a[0] == b[0] for a, b in zip(words, new, strict=True))  # first letters stay
    assert twins.edit_text("a b c", rng) == "a b c"  # nothing to edit: not a twin source


def test_image_twins_are_a_one_pixel_shift():
    image = np.arange(20, dtype=np.uint8).reshape(4, 5)
    right = twins.shift_image(image, 0, 1)
    assert right.dtype == image.dtype and right.shape == image.shape
    assert (right[:, 1:] == image[:, :-1]).all() and (right[:, 0] == image[:, 0]).all()
    down = twins.shift_image(image, 1, 0)
    assert (down[1:] == image[:-1]).all()
    up, left = twins.shift_image(image, -1, 0), twins.shift_image(image, 0, -1)
    assert (up[:-1] == image[1:]).all() and (left[:, :-1] == image[:, 1:]).all()


@pytest.mark.parametrize("task_id", ["nlp/food-reviews", "cv/fashion-mnist", "tabular/credit-default"])
def test_probe_plan_hides_twins_among_repeated_rows(task_id, tmp_path):
    task = get_task(task_id)
    plan = twins.write_probe_inputs(task, "test", tmp_path / "in", task.seed)
    assert plan is not None
    probe = json.loads((tmp_path / "in" / PROBE_FILE).read_text())
    assert probe == {"timed": plan.timed, "rows": plan.rows}  # what the timer gets: rows, never which is which
    twins_at, again_at = plan.twin_positions(), plan.repeat_positions()
    assert len(twins_at) == len(again_at) == len(plan.twin_of) > 0
    repeated = {plan.rows[p] for p in again_at}
    assert repeated.isdisjoint(plan.twin_of)  # a twin never meets its own hidden row in the call
    assert not (np.diff(twins_at) == 1).all()  # shuffled, not a block
    again = twins.write_probe_inputs(task, "test", tmp_path / "again", task.seed)
    assert again == plan  # seeded by the task: every candidate gets the same twins
    if task.suite == "cv":
        images = np.load(tmp_path / "in" / INPUT_FILES["cv"])
        hidden = read_npz(task.data_path("test"))["images"]
        assert images.dtype == hidden.dtype and len(images) == plan.timed + len(plan.twin_of)
        assert (images[:plan.timed] == hidden).all()
        assert all((images[plan.timed + j] != hidden[i]).any() for j, i in enumerate(plan.twin_of))
    if task.suite == "nlp":
        texts = json.loads((tmp_path / "in" / INPUT_FILES["nlp"]).read_text())
        hidden = splits.read_table(task, "test")[splits.TEXT_COLUMN].tolist()
        assert texts[:plan.timed] == hidden
        assert all(splits.normalise_text(texts[plan.timed + j]) != splits.normalise_text(hidden[i])
                   for j, i in enumerate(plan.twin_of))


def test_no_probe_for_a_tiny_split(credit, tmp_path):
    import shutil

    from grader.spec.task import load_task

    folder = tmp_path / "tasks" / credit.id
    shutil.copytree(credit.root, folder, ignore=shutil.ignore_patterns("examples"))
    rows = (folder / "data" / "test.csv").read_text().splitlines()[: twins.MIN_ROWS]
    (folder / "data" / "test.csv").write_text("\n".join(rows) + "\n")
    task = load_task(folder)
    assert twins.write_probe_inputs(task, "test", tmp_path / "in", task.seed) is None
    assert not (tmp_path / "in" / PROBE_FILE).exists()
