"""Pure host-side evaluation: metrics, figures, scoring, latency, reproducibility, failure classes.

Nothing here runs candidate code or touches a sandbox; every function takes plain values and returns report models.
"""
