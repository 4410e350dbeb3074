"""The installed grader's version, in a module of its own so that reading it imports nothing else."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("grader")
except PackageNotFoundError:  # running from a checkout without installing
    __version__ = "0.0.0+local"
