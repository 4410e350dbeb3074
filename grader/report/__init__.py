"""A finished grading on disk: report.json read and written (never re-scored), and its renderings
(Markdown, HTML, JUnit, the terminal summary)."""
