"""How the automatic grading of written answers ranks them against an interviewer's points.

Grades every answer of the calibration set (``tests/rubric/calibration/``, one file per question of
the default rubric) and prints, per question and overall, the rank correlation (Spearman) of the
automatic score with the interviewer's points and the mean absolute error in points (out of 10),
then the mean automatic share per quality of answer, the ratio of real answers (thorough, concise)
to hollow ones (padded, buzzwords), and the highest score of an answer that should earn nothing
(negated, off-topic, restated). Answers written after the grader was tuned (``holdout``) get their
own lines. Targets (issue 11): Spearman >= 0.8 overall, real >= 3x hollow, empty <= 0.3.
Run: `python -m benchmarks.answers_calibration [--verbose]`.
"""

from __future__ import annotations

import argparse
import time

from tests.rubric.calibration import EMPTY, QUALITIES, Figures, Graded, figures, grade_all, load, worst_empty

TARGET_SPEARMAN = 0.8
TARGET_RATIO = 3.0
TARGET_EMPTY = 0.3


def _row(label: str, f: Figures) -> str:
    return f"{label:<22} {f.answers:>4} {f.spearman:>9.3f} {f.mae:>9.2f} {f.ratio_real_to_hollow():>12.1f}"


def report(graded: list[Graded], title: str) -> None:
    print(f"\n{title}")
    print(f"{'question':<22} {'n':>4} {'spearman':>9} {'MAE /10':>9} {'real/hollow':>12}")
    for question in sorted({g.item.question for g in graded}):
        print(_row(question, figures([g for g in graded if g.item.question == question])))
    overall = figures(graded)
    print(_row("overall", overall))
    print("mean automatic share by quality: "
          + ", ".join(f"{q} {overall.by_quality[q]:.2f}" for q in QUALITIES if q in overall.by_quality))
    worst = worst_empty(graded)
    if worst is not None:
        print(f"highest {'/'.join(EMPTY)} answer: {worst.score:.2f} ({worst.item.question}/{worst.item.id})")
    ok_rho = overall.spearman >= TARGET_SPEARMAN
    ok_ratio = overall.ratio_real_to_hollow() >= TARGET_RATIO
    ok_empty = worst is None or worst.score <= TARGET_EMPTY
    print(f"targets: spearman >= {TARGET_SPEARMAN} {'met' if ok_rho else 'NOT met'}; "
          f"real >= {TARGET_RATIO:g}x hollow {'met' if ok_ratio else 'NOT met'}; "
          f"empty <= {TARGET_EMPTY} {'met' if ok_empty else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="print every answer's points and score")
    args = parser.parse_args()
    items = load()
    started = time.perf_counter()
    graded = grade_all(items)
    elapsed = time.perf_counter() - started
    if args.verbose:
        for g in sorted(graded, key=lambda g: (g.item.question, -g.item.points)):
            flag = " holdout" if g.item.holdout else ""
            print(f"{g.item.question:<20} {g.item.id:<32} {g.item.quality:<10} {g.item.points:>5.1f} "
                  f"{g.score * g.item.max_points:>5.1f}{flag}")
    tuned = [g for g in graded if not g.item.holdout]
    report(tuned, f"calibration set ({len(tuned)} answers)")
    holdout = [g for g in graded if g.item.holdout]
    if holdout:
        report(holdout, f"holdout, written after tuning ({len(holdout)} answers)")
        report(graded, f"all answers ({len(graded)})")
    print(f"\ngraded {len(graded)} answers in {elapsed * 1000:.0f} ms ({elapsed / len(graded) * 1000:.2f} ms each)")


if __name__ == "__main__":
    main()
