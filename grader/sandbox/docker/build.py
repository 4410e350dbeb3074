"""A submission's Dockerfile, built offline on the runtime image, one step at a time, hardened.

The engine's own builder runs ``RUN`` steps as root with the default capabilities and no process
limit (``RLIMIT_NPROC`` does not apply to root), which is no place for untrusted commands. So this
module builds the image itself: every ``FROM`` becomes the runtime image (no registry, no network),
each ``RUN`` runs in a fresh container made by :func:`grader.sandbox.docker.hardening.create` (the
runs' very options, the root filesystem left writable so the step can be committed), watched for
its process limit like a run, and stopping by itself at the build's deadline; ``COPY``/``ADD`` put
files from the submission with ``put_archive`` and are committed; metadata instructions become
commit changes. Everything it creates is labelled like a run's and removed at the end.

The watchdog of a step is the ``timeout`` of the image being built: a Dockerfile that replaces it
in an earlier step defeats it, which only matters if the grader dies during the build; the
session's leftovers are then removed by the next prune.
"""

from __future__ import annotations

import fnmatch
import io
import json
import math
import re
import shlex
import tarfile
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from grader.sandbox.base import BuildResult, Limits
from grader.sandbox.docker import cleanup, hardening
from grader.sandbox.docker.archive import add_dir, add_file
from grader.sandbox.docker.hardening import SELF_STOP_GRACE_S, Resources
from grader.sandbox.docker.monitor import StatsFollower
from grader.sandbox.dockerfile import Step, exec_form
from grader.submission.requirements import canonical, meets

#: ``docker commit --change`` accepts these; the others are kept as notes.
COMMIT_CHANGES = {"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR"}
VARIABLE = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")
#: Output of a step that failed for want of a network.
NO_NETWORK = re.compile(r"Temporary failure in name resolution|Network is unreachable|Could not resolve|"
                        r"Failed to establish a new connection")
#: pip's last word when nothing it can reach has the requirement: the name and what was asked of it.
NO_DISTRIBUTION = re.compile(r"No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)"
                             r"(?:\[[^\]]*\])?\s*([<>=!~][^\s;]*)?")
#: pip could not read a line of a requirements file, and its own hint when it has one.
INVALID = re.compile(r"ERROR: Invalid requirement: '([^']*)'[^\n]*(?:\nHint: ([^\n]*))?")
#: pip building a package from source fetches its build tools first, which an offline build cannot.
BUILD_DEPS = re.compile(r"Installing build dependencies|installing build dependencies")
#: Names candidates write for packages that are published under another name.
ALIASES = {"sklearn": "scikit-learn", "cv2": "opencv-python", "pil": "pillow", "yaml": "pyyaml",
           "skimage": "scikit-image"}


class BuildFailed(Exception):
    pass


def _unknown_name(written: str, name: str, runtime: dict[str, str]) -> str:
    import difflib

    known = ALIASES.get(name)
    if known is None or known not in runtime:
        close = difflib.get_close_matches(name, list(runtime), n=1, cutoff=0.75)
        known = close[0] if close else None
    if known is not None:
        return (f"{written} is not a package of the runtime: the package is called {known} "
                f"(the runtime has {known}=={runtime[known]}); pin {known}=={runtime[known]}")
    return (f"{written} is not among the runtime's packages and the build has no network to download "
            "it: use only the packages `grader sandbox doctor` lists")


def failure_cause(output: str, runtime: dict[str, str]) -> str | None:
    """Why a failed step failed, read from its output, when it is a cause the candidate can fix.

    The network is blamed only when nothing more specific explains it: an offline build fails every
    download, but a wrong pin or name is what the candidate has to change. ``runtime`` maps the
    runtime's package names to their versions.
    """
    invalid = INVALID.search(output)
    if invalid:
        hint = f" ({invalid[2].strip()})" if invalid[2] else ""
        return f"pip cannot read the requirement {invalid[1]!r}{hint}: write each pin as name==version"
    missing = NO_DISTRIBUTION.search(output)
    if missing:
        name, spec = canonical(missing[1]), (missing[2] or "").strip()
        have = runtime.get(name)
        if have is None:
            return _unknown_name(missing[1] + spec, name, runtime)
        if BUILD_DEPS.search(output) and name in {"setuptools", "wheel", "setuptools-scm", "hatchling",
                                                  "flit-core", "poetry-core"}:
            return (f"pip tried to download {name} to build a package from source in an isolated environment, "
                    f"which an offline build cannot: install with `pip install --no-build-isolation` (the runtime "
                    f"has {name}=={have})")
        if spec and not meets(spec, have):
            if spec.startswith("=="):
                return (f"{name}{spec} does not exist in the runtime's packages (the runtime has {name}=={have}), "
                        f"and the build has no network to download it: pin {name}=={have}")
            return (f"{name}{spec} is not met by the runtime's {name}=={have}, and the build has no network to "
                    f"download another version: pin {name}=={have}")
        return f"pip could not install {name} from the runtime's packages (the runtime has {name}=={have})"
    if NO_NETWORK.search(output):
        return "the build has no network: nothing can be downloaded"
    return None


def _runtime_versions() -> dict[str, str]:
    try:
        from grader.sandbox.docker.image import locked_versions

        return locked_versions()
    except OSError:  # no lock at hand (an installed grader without its sandbox folder)
        return {}


class Builder:
    """Builds one Dockerfile (its parsed :class:`Step` list) on ``base_image``; see the module doc."""

    def __init__(self, client: Any, base_image: str, context: Path, limits: Limits) -> None:
        self.client, self.api, self.base, self.context, self.limits = client, client.api, base_image, context, limits
        self.started = time.monotonic()
        self.deadline = self.started + limits.timeout_s
        self.session = uuid.uuid4().hex
        self.labels = {**cleanup.session_labels(self.session), cleanup.PHASE_LABEL: "dockerfile",
                       cleanup.DEADLINE_LABEL: str(math.ceil(time.time() + limits.timeout_s + SELF_STOP_GRACE_S))}
        self.image = base_image
        self.env: dict[str, str] = {}
        self.args: dict[str, str] = {}
        self.workdir = "/"
        self.user = "0:0"
        self.shell = ["/bin/sh", "-c"]
        self.changes: dict[str, str] = {}
        self.stages: dict[str, str] = {}
        self.alias: str | None = None
        self.log: list[str] = []
        self.ignore = self._dockerignore()

    # -- helpers -----------------------------------------------------------------------------------
    def _dockerignore(self) -> list[str]:
        path = self.context / ".dockerignore"
        if not path.is_file():
            return []
        return [ln.strip().rstrip("/") for ln in path.read_text(errors="replace").splitlines()
                if ln.strip() and not ln.startswith("#")]

    def _subst(self, text: str) -> str:
        values = {**self.args, **self.env}
        return VARIABLE.sub(lambda m: values.get(m[1] or m[3], m[2] or ""), text)

    def _remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise BuildFailed("the build took longer than its time limit")
        return left

    def _container(self, argv: list[str]) -> str:
        """A step's container: hardened like a run's, stopping by itself at the build's deadline."""
        return hardening.create(
            self.api, self.image, argv, res=Resources.of(self.limits),
            stop_after_s=max(self.deadline - time.monotonic(), 0) + SELF_STOP_GRACE_S, labels=self.labels,
            user=self.user, workdir=self.workdir, env={**self.args, **self.env}, read_only=False)

    def _commit(self, container: str) -> None:
        changes = [*self.changes.values(), *(f"LABEL {k}={v}" for k, v in self.labels.items())]
        self.image = self.api.commit(container, changes=changes)["Id"]
        self.api.remove_container(container, force=True)

    # -- instructions ------------------------------------------------------------------------------
    def build(self, steps: list[Step]) -> BuildResult:
        import docker

        result = BuildResult(ok=False)
        try:
            if not steps or steps[0].keyword not in ("FROM", "ARG"):
                raise BuildFailed("a Dockerfile must start with FROM (or ARG before FROM)")
            for step in steps:
                self._remaining()
                try:
                    getattr(self, f"_i_{step.keyword.lower()}", self._unsupported)(step)
                except docker.errors.APIError as exc:
                    raise BuildFailed(f"line {step.line}: the engine refused {step.keyword}: "
                                      f"{exc.explanation or exc}") from None
                result.steps += 1
            self._commit(self._container(["true"]))  # the metadata of the last steps
            # The runtime image's own CMD does not count: the candidate's final stage must say it.
            result.starts = "CMD" in self.changes or "ENTRYPOINT" in self.changes
            result.ok = True
        except BuildFailed as exc:
            result.error = str(exc)
        finally:
            result.log = self.log
            cleanup.prune(self.client, self.session)
        return result

    def _unsupported(self, step: Step) -> None:
        raise BuildFailed(f"line {step.line}: {step.keyword} is not a Dockerfile instruction this build knows")

    def _i_from(self, step: Step) -> None:
        tokens = [t for t in self._subst(step.args).split() if not t.startswith("--")]
        if not tokens:
            raise BuildFailed(f"line {step.line}: FROM needs an image")
        if self.alias is not None:  # the stage that ends here can be built upon by name
            self.stages[self.alias] = self.image
        source = tokens[0]
        self.image = self.stages.get(source.lower(), self.base)
        self.env, self.workdir, self.user, self.changes = {}, "/", "0:0", {}
        self.alias = tokens[2].lower() if len(tokens) >= 3 and tokens[1].lower() == "as" else None
        what = f"stage {source}" if source.lower() in self.stages else "the runtime image (offline build)"
        self.log.append(f"line {step.line}: FROM {source} -> {what}")

    def _i_arg(self, step: Step) -> None:
        name, _, default = step.args.partition("=")
        self.args.setdefault(name.strip(), self._subst(default.strip().strip('"')))

    def _i_env(self, step: Step) -> None:
        text = self._subst(step.args)
        pairs = shlex.split(text)
        if pairs and "=" not in pairs[0]:  # legacy "ENV KEY value with spaces"
            key, _, value = text.partition(" ")
            pairs = [f"{key}={value.strip()}"]
        for pair in pairs:
            key, _, value = pair.partition("=")
            self.env[key] = value
            self.changes[f"ENV {key}"] = f"ENV {key}={json.dumps(value)}"

    def _i_workdir(self, step: Step) -> None:
        path = self._subst(step.args).strip('"')
        self.workdir = str(PurePosixPath(self.workdir) / path)
        self.changes["WORKDIR"] = f"WORKDIR {self.workdir}"
        self._execute(step, ["mkdir", "-p", self.workdir], show=False)

    def _i_user(self, step: Step) -> None:
        self.user = self._subst(step.args).strip()
        self.changes["USER"] = f"USER {self.user}"

    def _i_shell(self, step: Step) -> None:
        argv = exec_form(step.args)
        if not argv:
            raise BuildFailed(f"line {step.line}: SHELL needs a JSON list, e.g. [\"/bin/bash\", \"-c\"]")
        self.shell = argv

    def _metadata(self, step: Step) -> None:
        key = step.keyword if step.keyword in ("CMD", "ENTRYPOINT", "USER", "WORKDIR") else \
            f"{step.keyword} {len(self.changes)}"
        if step.keyword in COMMIT_CHANGES:
            self.changes[key] = f"{step.keyword} {self._subst(step.args) if step.keyword != 'CMD' else step.args}"
        else:
            self.log.append(f"line {step.line}: {step.keyword} noted (not part of this offline build)")

    _i_cmd = _i_entrypoint = _i_expose = _i_label = _i_volume = _i_onbuild = _metadata
    _i_healthcheck = _i_stopsignal = _i_maintainer = _metadata

    def _i_run(self, step: Step) -> None:
        argv = exec_form(step.args) or [*self.shell, step.args]
        self._execute(step, argv)

    def _execute(self, step: Step, argv: list[str], show: bool = True) -> None:
        container = self._container(argv)
        stats = StatsFollower(self.api, container, self.limits.pids, stop=lambda: self.api.kill(container))
        self.api.start(container)
        stats.start()
        timeout = self._remaining()
        try:
            code = self.api.wait(container, timeout=timeout).get("StatusCode")
        except Exception:  # noqa: BLE001 - the requests timeout: the step ran past the deadline
            self.api.kill(container)
            raise BuildFailed(f"line {step.line}: RUN did not finish before the build's time limit") from None
        finally:
            stats.stop()
        state = self.api.inspect_container(container)["State"]
        tail = self.api.logs(container, stdout=True, stderr=True, tail=200).decode("utf-8", "replace").strip()
        output = "\n".join(tail.splitlines()[-20:])
        if show:
            self.log.append(f"line {step.line}: {step.keyword} {step.args[:120]}")
            if output:
                self.log.append("  " + output.replace("\n", "\n  ")[-1500:])
        if state.get("OOMKilled"):
            raise BuildFailed(f"line {step.line}: RUN used more than {self.limits.memory_mb} MB and was killed")
        if stats.stopped:
            raise BuildFailed(f"line {step.line}: RUN was stopped: it held the limit of {self.limits.pids} "
                              "processes (a fork bomb, or a pool too large)")
        if code != 0:
            cause = failure_cause(tail, _runtime_versions())
            raise BuildFailed(f"line {step.line}: `{step.args[:120]}` exited with code {code}"
                              + (f" ({cause})" if cause else ""))
        self._commit(container)

    def _i_copy(self, step: Step) -> None:
        text = self._subst(step.args)
        flags = [t for t in text.split() if t.startswith("--")]
        rest = exec_form(text[text.index("["):]) if "[" in text and text.strip().endswith("]") else None
        if rest is None:
            rest = [t for t in shlex.split(text) if not t.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            raise BuildFailed(f"line {step.line}: COPY --from (multi-stage copies) is not supported by the "
                              "offline build")
        if len(rest) < 2:
            raise BuildFailed(f"line {step.line}: {step.keyword} needs a source and a destination")
        *sources, dest = rest
        if step.keyword == "ADD" and any(re.match(r"^[a-z]+://", s) for s in sources):
            raise BuildFailed(f"line {step.line}: ADD from a URL needs the network, which the build does not have")
        target = PurePosixPath(self.workdir) / dest
        files = self._sources(step, sources)
        into_dir = (dest.endswith(("/", "/.")) or dest == "." or str(target) == self.workdir or len(files) > 1
                    or any(p.is_dir() for p, _ in files))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for parent in reversed(list((target if into_dir else target.parent).parents)):
                if str(parent) != "/":
                    add_dir(tar, str(parent))
            if into_dir:
                add_dir(tar, str(target))
            for path, rel in files:
                base = target / rel if into_dir else target
                if path.is_dir():
                    for sub in sorted(path.rglob("*")):
                        inner = sub.relative_to(path).as_posix()
                        if self._ignored((Path(rel) / inner).as_posix() if rel else inner) or sub.is_symlink():
                            continue
                        self._add(tar, sub, base / inner)
                else:
                    self._add(tar, path, base)
        buf.seek(0)
        container = self._container(["true"])
        self.api.put_archive(container, "/", buf.getvalue())
        self._commit(container)
        self.log.append(f"line {step.line}: {step.keyword} {' '.join(sources)} -> {target}")

    def _i_add(self, step: Step) -> None:
        self._i_copy(step)

    def _sources(self, step: Step, sources: list[str]) -> list[tuple[Path, str]]:
        root = self.context.resolve()
        out = []
        for source in sources:
            matches = sorted(root.glob(source.lstrip("/"))) if any(c in source for c in "*?[") else [root / source]
            for path in matches:
                real = path.resolve()
                if not real.is_relative_to(root):
                    raise BuildFailed(f"line {step.line}: {source} is outside the submission")
                if not path.exists():
                    raise BuildFailed(f"line {step.line}: {source} is not in the submission")
                rel = real.relative_to(root).as_posix()
                out.append((real, "" if path.is_dir() or rel == "." else Path(rel).name))
        return out

    def _ignored(self, rel: str) -> bool:
        return any(fnmatch.fnmatch(rel, pat) or rel.startswith(pat + "/") for pat in self.ignore)

    @staticmethod
    def _add(tar: tarfile.TarFile, path: Path, target: PurePosixPath) -> None:
        if path.is_dir():
            add_dir(tar, str(target))
        elif path.is_file():
            add_file(tar, str(target), path)


__all__ = ["BuildFailed", "Builder", "failure_cause"]
