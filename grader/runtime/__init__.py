"""Grader-owned code that runs INSIDE the sandbox: the prediction harness, the latency timer and their wire
format. Standard library only: these files are copied into the container and run by its Python."""
