"""The candidate's Dockerfile, built offline on the runtime image, one step at a time, hardened.

The engine's own builder runs ``RUN`` steps as root with the default capabilities and no process
limit (``RLIMIT_NPROC`` does not apply to root), which is no place for untrusted commands. So this
module builds the image itself: every ``FROM`` becomes the runtime image (no registry, no network),
each ``RUN`` runs in a fresh container with the sandbox's hardening (no network, no capabilities,
no-new-privileges, memory, CPU and process limits, a deadline) and is committed; ``COPY``/``ADD``
put files from the submission with ``put_archive`` and are committed; metadata instructions become
commit changes. Everything it creates is labelled like the sandbox's and removed at the end.
"""

from __future__ import annotations

import fnmatch
import io
import json
import re
import shlex
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from grader.rubric.base import Outcome
from grader.sandbox import cleanup
from grader.sandbox.base import Limits

if TYPE_CHECKING:
    from grader.sandbox.base import Sandbox

#: Points for a Dockerfile that is there but does not build; one that builds without saying how to
#: start the service (no CMD or ENTRYPOINT) gets BUILDS_NO_START.
PRESENT = 0.25
BUILDS_NO_START = 0.75
#: ``docker commit --change`` accepts these; the others are kept as notes.
COMMIT_CHANGES = {"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR"}
VARIABLE = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")


class BuildFailed(Exception):
    pass


@dataclass
class Step:
    keyword: str
    args: str
    line: int


def parse(text: str) -> list[Step]:
    """Instructions with their first line number; comments, blank lines and continuations handled."""
    steps: list[Step] = []
    pending: list[str] = []
    first = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comments inside a continuation are dropped, as the engine does
        if not pending:
            first = number
        pending.append(stripped[:-1].rstrip() if stripped.endswith("\\") else stripped)
        if not stripped.endswith("\\"):
            joined = " ".join(p for p in pending if p)
            keyword, _, args = joined.partition(" ")
            steps.append(Step(keyword.upper(), args.strip(), first))
            pending = []
    if pending:
        joined = " ".join(pending)
        keyword, _, args = joined.partition(" ")
        steps.append(Step(keyword.upper(), args.strip(), first))
    return steps


def _json_or_shell(args: str) -> list[str] | None:
    """Exec form (a JSON list of strings), or None for shell form."""
    if args.startswith("["):
        try:
            value = json.loads(args)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return None


@dataclass
class BuildResult:
    ok: bool
    log: list[str] = field(default_factory=list)
    error: str | None = None
    starts: bool = False
    steps: int = 0


class Builder:
    def __init__(self, client: Any, base_image: str, context: Path, limits: Limits, timeout_s: float) -> None:
        self.client, self.api, self.base, self.context, self.limits = client, client.api, base_image, context, limits
        self.deadline = time.monotonic() + timeout_s
        self.session = uuid.uuid4().hex
        self.labels = {cleanup.SANDBOX_LABEL: "1", cleanup.SESSION_LABEL: self.session,
                       cleanup.PHASE_LABEL: "dockerfile"}
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

    def _host_config(self) -> Any:
        from docker.types import Ulimit

        lim = self.limits
        return self.api.create_host_config(
            network_mode="none", cap_drop=["ALL"], security_opt=["no-new-privileges"],
            mem_limit=f"{lim.memory_mb}m", memswap_limit=f"{lim.memory_mb}m", pids_limit=lim.pids,
            nano_cpus=max(int(lim.cpus * 1e9), 10_000_000), init=True,
            ulimits=[Ulimit(name="fsize", soft=lim.file_size_mb << 20, hard=lim.file_size_mb << 20),
                     Ulimit(name="nofile", soft=lim.open_files, hard=lim.open_files),
                     Ulimit(name="core", soft=0, hard=0)])

    def _container(self, argv: list[str]) -> str:
        return self.api.create_container(
            self.image, entrypoint=argv[:1], command=argv[1:], user=self.user, working_dir=self.workdir,
            environment={**self.args, **self.env}, labels=self.labels, host_config=self._host_config(),
            network_disabled=True)["Id"]

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
        argv = _json_or_shell(step.args)
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
        argv = _json_or_shell(step.args) or [*self.shell, step.args]
        self._execute(step, argv)

    def _execute(self, step: Step, argv: list[str], show: bool = True) -> None:
        container = self._container(argv)
        self.api.start(container)
        timeout = self._remaining()
        try:
            code = self.api.wait(container, timeout=timeout).get("StatusCode")
        except Exception:  # noqa: BLE001 - the requests timeout: the step ran past the deadline
            self.api.kill(container)
            raise BuildFailed(f"line {step.line}: RUN did not finish before the build's time limit") from None
        state = self.api.inspect_container(container)["State"]
        output = self.api.logs(container, stdout=True, stderr=True, tail=20).decode("utf-8", "replace").strip()
        if show:
            self.log.append(f"line {step.line}: {step.keyword} {step.args[:120]}")
            if output:
                self.log.append("  " + output.replace("\n", "\n  ")[-1500:])
        if state.get("OOMKilled"):
            raise BuildFailed(f"line {step.line}: RUN used more than {self.limits.memory_mb} MB and was killed")
        if code != 0:
            hint = " (the build has no network: nothing can be downloaded)" if re.search(
                r"(Temporary failure in name resolution|Network is unreachable|Could not resolve|No matching "
                r"distribution)", output) else ""
            raise BuildFailed(f"line {step.line}: `{step.args[:120]}` exited with code {code}{hint}")
        self._commit(container)

    def _i_copy(self, step: Step) -> None:
        text = self._subst(step.args)
        flags = [t for t in text.split() if t.startswith("--")]
        rest = _json_or_shell(text[text.index("["):]) if "[" in text and text.strip().endswith("]") else None
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
                    tar.addfile(self._dir_info(str(parent)))
            if into_dir:
                tar.addfile(self._dir_info(str(target)))
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
    def _dir_info(name: str) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name.lstrip("/"))
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        return info

    @staticmethod
    def _add(tar: tarfile.TarFile, path: Path, target: PurePosixPath) -> None:
        info = tarfile.TarInfo(str(target).lstrip("/"))
        if path.is_dir():
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        elif path.is_file():
            info.size, info.mode = path.stat().st_size, 0o755 if path.stat().st_mode & 0o100 else 0o644
            with open(path, "rb") as fh:
                tar.addfile(info, fh)



def check(path: Path, sandbox: Sandbox | None, *, limits: Limits | None = None, timeout_s: float = 300) -> Outcome:
    from grader.sandbox.docker.backend import DockerSandbox

    steps = parse(path.read_text(encoding="utf-8", errors="replace"))
    if not any(s.keyword == "FROM" for s in steps):
        return Outcome(PRESENT, "the Dockerfile has no FROM instruction, so it cannot build")
    if not isinstance(sandbox, DockerSandbox):
        return Outcome(None, "a Dockerfile is present but was not built: building it needs the docker backend",
                       needs_review=True)
    builder = Builder(sandbox.client, sandbox.image, path.parent, limits or Limits(memory_mb=1024, pids=128),
                      timeout_s)
    result = builder.build(steps)
    evidence = result.log[-12:]
    if not result.ok:
        return Outcome(PRESENT, f"the Dockerfile does not build offline on the runtime image: {result.error}",
                       evidence=evidence)
    if not result.starts:
        return Outcome(BUILDS_NO_START, f"the Dockerfile builds offline on the runtime image ({result.steps} steps) "
                                        "but has no CMD or ENTRYPOINT: it does not say how to start the service",
                       evidence=evidence)
    return Outcome(1.0, f"the Dockerfile builds offline on the runtime image ({result.steps} steps) and says how "
                        "to start the service", evidence=evidence)
