"""The ``local`` backend: runs the command on this host, in a fresh temp folder. IT DOES NOT ISOLATE.

Use it only when explicitly asked (``--sandbox local``): for trusted code, for debugging, or where
no Docker engine exists. It warns once per instance and marks every result and ``describe()``
with ``isolates: False`` and a warning string.

What it does, to behave like the docker backend as far as a host process can:

* **Mounts.** Each :class:`~grader.sandbox.base.Mount` target maps to a fresh folder
  ``<run>/fs/<target>`` under the run's temp folder (``/workspace`` -> ``<run>/fs/workspace``),
  with ``source`` copied in. ``/tmp`` is added (``Limits.tmp_mb``) when the spec has none.
  ``collect_to`` gets a copy of the folder after the run. Copies keep only regular files,
  folders and relative symlinks that stay inside the tree.
* **Paths are rewritten, since the real ``/workspace`` etc. do not exist on the host**: every argv
  element, the workdir and every environment value (each ``:``-separated part) equal to a mount
  target or starting with ``<target>/`` is rewritten to the mapped host folder. A path written
  *inside* the candidate's code (``open("/data/train.csv")``) is not: code should use the
  ``GRADER_*`` variables (``GRADER_DATA_DIR``, ``GRADER_ARTIFACTS_DIR``) and its working folder.
  ``TMPDIR`` and ``HOME`` point at the mapped ``/tmp``.
* **As root** (the strong mode): the command runs as a dedicated, otherwise unused uid picked per
  run (so ``RLIMIT_NPROC`` counts only this run and "kill every process of the uid" is safe), with
  no supplementary groups and ``no_new_privs``. A supervisor process (``supervisor.py``) unshares
  mount, network, pid, ipc and uts namespaces: writable mounts become size-capped tmpfs (writing
  past ``size_mb`` gives "No space left on device"), read-only mounts become read-only bind mounts,
  the host's ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are hidden behind private size-capped tmpfs,
  ``/proc`` shows only the run's processes, and the only network interface is loopback.
* **The companion** (:class:`~grader.sandbox.base.Companion`, a grader-owned process): the
  supervisor's shim forks it right after the command has exec'd, in the same namespaces (so the
  same rewritten ``/tmp``, made mode 1777 as root so either side can create its socket there), with
  the same rlimits, CPU affinity and ``no_new_privs``. Its argv and env are rewritten like the
  command's; it works in ``/``. As root it runs as a second fresh dedicated uid (even when
  ``LocalSandbox(uid=...)`` fixes the command's), so the command cannot signal it, read its
  ``/proc/<pid>/mem`` or enter its folders. Its stdout/stderr go to files in a root-only folder of
  the run, whose tails become ``RunResult.companion``: never mixed with the command's streams. When
  the command ends, a companion still running gets ``COMPANION_GRACE_S`` to exit by itself (so one
  that is just finishing reports its status), then it is killed and swept like the command's
  processes; at the timeout it is killed at once. Its ``exit_code`` is ``None`` when it had not
  ended by then. **Not root**, it runs as the command's own uid: ``describe()["unenforced"]`` then
  lists ``companion_isolation``.
* **Companion-only mounts** (``Mount.companion_only``), with or without a companion in the spec:
  owned by the companion's uid, mode ``0700`` (writable) or ``0500`` (read-only), so the command's
  uid cannot enter them. Not root they are only ``chmod``-ed (the candidate owns them).
* **Not root**: the command runs as the grader's own uid. Namespaces are tried through an
  unprivileged user namespace (same features except the uid change); when that is unavailable,
  read-only mounts are only ``chmod``-ed (the candidate owns them and could undo it), writable
  mount sizes are measured after the run (an overflow is appended to stderr as "No space left on
  device"), the network is the host's, and ``RLIMIT_NPROC`` counts all the user's processes.
* **Limits**: wall-clock timeout (the supervisor kills the whole tree, including descendants that
  called ``setsid`` or double-forked: it is their child subreaper, and the pid namespace dies with
  its init); memory through ``RLIMIT_DATA`` (**per process**, not for the tree as a whole);
  processes through ``RLIMIT_NPROC``; ``RLIMIT_FSIZE``; ``RLIMIT_NOFILE``; no core dumps; CPUs
  through affinity to ``ceil(cpus)`` CPUs (whole CPUs only, no fractional quota).

Result conventions: ``exit_code`` is the command's exit status, **minus the signal number when a
signal killed it** (``-9``, like :mod:`subprocess`; the docker backend reports ``128 + n``), and
``None`` when it was stopped at the timeout. ``oom_killed`` comes from stderr (``MemoryError``,
"Cannot allocate memory", ...) on stderr of a failed run, or from a SIGKILL/SIGSEGV/SIGABRT/SIGBUS
death with a peak resident size near ``memory_mb``. ``pids_exhausted`` comes from the supervisor
seeing the run at its task limit, or from fork failures ("Resource temporarily unavailable") on stderr of a failed run;
a run held near its task limit for ``PIDS_STOP_AFTER_S`` is stopped (``exit_code`` ``None``,
``details["stopped_by"] == "pids limit"``).
``peak_memory_mb`` is the largest resident size of a single process (at least the supervisor's
own ~10 MB, since the command is forked from it). stdout/stderr keep the last
``STREAM_TAIL_BYTES`` each; nothing more is held in memory or written to disk.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pwd
import re
import secrets
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from grader.errors import SandboxError
from grader.sandbox.base import (
    PIDS_STOP_AFTER_S,
    STREAM_TAIL_BYTES,
    CompanionResult,
    Mount,
    RunResult,
    RunSpec,
    Sandbox,
    StreamTail,
    backends,
    check_spec,
    fork_failed,
    pids_near,
)
from grader.sandbox.local import supervisor as sup

log = logging.getLogger(__name__)

LOCAL_WARNING = (
    "the 'local' sandbox backend does NOT isolate: the candidate's code runs on this host as an ordinary "
    "process and can read anything the host lets any user read. Use it only for trusted code or debugging; "
    "grade untrusted submissions with the docker backend."
)

SUPERVISOR = str(Path(sup.__file__).resolve())
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
#: Dedicated per-run uids are drawn from here (far from real users and the usual subuid ranges).
UID_BASE, UID_SPAN = 1_500_000_000, 1_000_000
#: How long a companion still running when the command ends may take to exit by itself (a companion
#: that is just finishing then reports its exit status) before it is killed.
COMPANION_GRACE_S = 1.0
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OOM_PATTERNS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory", "Out of memory",
                "Unable to allocate", "failed to allocate")


class LocalSandboxWarning(UserWarning):
    """Emitted once per :class:`LocalSandbox`: it does not isolate."""


def _usable_by_others(path: str) -> bool:
    """Whether a uid that owns nothing can execute ``path`` (every folder on the way searchable)."""
    real = os.path.realpath(path)
    try:
        if os.stat(real).st_mode & 0o005 != 0o005:
            return False
        parent = os.path.dirname(real)
        while True:
            if not os.stat(parent).st_mode & 0o001:
                return False
            if parent == "/":
                return True
            parent = os.path.dirname(parent)
    except OSError:
        return False


def _searchable_by_others(folder: str) -> bool:
    """Whether a uid that owns nothing can reach into ``folder`` (every folder on the way)."""
    path = os.path.realpath(folder)
    while True:
        try:
            if not os.stat(path).st_mode & 0o001:
                return False
        except OSError:
            return False
        if path == "/":
            return True
        path = os.path.dirname(path)


def _rmtree(path: str) -> None:
    def retry(func, p, _exc):  # read-only folders (non-root runs): make writable, try again
        try:
            os.chmod(os.path.dirname(p), stat.S_IRWXU)
            if os.path.isdir(p) and not os.path.islink(p):
                os.chmod(p, stat.S_IRWXU)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=retry)


def _file_tail(path: str) -> str:
    """The last ``STREAM_TAIL_BYTES`` of a file, decoded (``""`` when it was never created)."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - STREAM_TAIL_BYTES))
            return f.read(STREAM_TAIL_BYTES).decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


@backends.register("local")
class LocalSandbox(Sandbox):
    """Runs commands on this host in a temp folder, with limits but without isolation. See the module doc."""

    name = "local"
    isolates = False

    def __init__(self, *, base_dir: str | Path | None = None, namespaces: bool = True, uid: int | None = None,
                 grace_s: float = 5.0, setup_timeout_s: float = 300.0) -> None:
        """``base_dir``: where run folders go (default: the system temp folder). ``namespaces``: try
        them (default). ``uid``: run as this uid when root instead of a fresh dedicated one (then
        leftover processes are found by ancestry only). ``grace_s``: how long past the timeout the
        supervisor itself may take before it is killed."""
        self.base_dir = str(base_dir) if base_dir is not None else None
        self.namespaces = namespaces
        self.uid = uid
        self.grace_s = grace_s
        self.setup_timeout_s = setup_timeout_s
        self.privileged = os.geteuid() == 0
        self._probe: dict[str, bool] | None = None
        warnings.warn(LOCAL_WARNING, LocalSandboxWarning, stacklevel=2)
        log.warning("%s", LOCAL_WARNING)

    # ------------------------------------------------------------------ facts

    def _namespaces(self) -> dict[str, bool]:
        if self._probe is None:
            if not self.namespaces:
                self._probe = {}
            else:
                out = subprocess.run([sys.executable, "-I", SUPERVISOR, "--probe"], capture_output=True,
                                     text=True, timeout=30, check=False)
                try:
                    self._probe = json.loads(out.stdout)
                except ValueError:
                    self._probe = {}
        return self._probe

    def unenforced(self) -> list[str]:
        """Limits this instance cannot enforce here (the conformance suite skips their tests)."""
        ns = self._namespaces()
        missing = []
        if not ns.get("net"):
            missing.append("network")
        if not ns.get("mount"):
            missing.append("mount_size")
            if not self.privileged:
                missing.append("read_only")
        if not self.privileged:
            missing.append("pids")
            missing.append("companion_isolation")  # the companion can only run as the command's uid
        return missing

    def describe(self) -> dict[str, object]:
        ns = self._namespaces()
        return {
            "backend": self.name,
            "isolates": False,
            "warning": LOCAL_WARNING,
            "privileged": self.privileged,
            "run_as": ("a dedicated uid per run" if self.uid is None else f"uid {self.uid}") if self.privileged
            else "the grader's own uid",
            "companion_runs_as": "a second dedicated uid per run" if self.privileged
            else "the command's uid (NOT isolated from it)",
            "namespaces": ns,
            "network_isolated": bool(ns.get("net")),
            "memory_limit": "RLIMIT_DATA per process (not the whole process tree)",
            "cpu_limit": "affinity to ceil(cpus) CPUs",
            "unenforced": self.unenforced(),
            "interpreter_on_path": self._interpreter_dir(),
        }

    def _interpreter_dir(self) -> str | None:
        """The grader's interpreter folder, put first on PATH when the command can run it."""
        if self.privileged and not _usable_by_others(sys.executable):
            return None
        return os.path.dirname(sys.executable)

    # ------------------------------------------------------------------ run

    def run(self, spec: RunSpec) -> RunResult:
        mounts = self._check(spec)
        label = re.sub(r"[^A-Za-z0-9_.-]", "_", spec.label)[:32] or "run"
        root = tempfile.mkdtemp(prefix=f"grader-local-{label}-", dir=self.base_dir)
        proc: subprocess.Popen[bytes] | None = None
        events_r = events_w = -1
        kill_uids: list[int] = []
        try:
            os.chmod(root, 0o711)
            uid, gid, dedicated = self._pick_uid()
            if dedicated:
                assert uid is not None
                kill_uids.append(uid)
            # The companion's uid: fresh and dedicated whenever there is one to own something.
            companion_uid = None
            if self.privileged and (spec.companion is not None or any(m.companion_only for m in mounts)):
                companion_uid = self._fresh_uid(exclude={uid} if uid is not None else set())
                kill_uids.append(companion_uid)
            if uid is not None and not self._namespaces().get("mount") and not _searchable_by_others(root):
                # With a mount namespace the run folder is re-created on a fresh /tmp; without, the
                # candidate's uid must be able to walk to it.
                raise SandboxError(f"the local sandbox's run folder {root} is inside a folder other users cannot "
                                   "enter, so the candidate's uid could not reach its files",
                                   hint="pass LocalSandbox(base_dir=...) a folder whose parents are all "
                                        "world-searchable, such as /tmp")
            entries, skipped = self._stage(root, mounts, uid, companion_uid,
                                           shared_tmp=spec.companion is not None and companion_uid is not None)
            targets = {m.target: e["path"] for m, e in zip(mounts, entries, strict=True)}
            rewrite = self._rewriter(targets)
            cwd = self._workdir(root, spec.workdir, rewrite)
            env = self._env(spec.env, rewrite, targets)
            lim = spec.limits
            rlimits = {"DATA": lim.memory_mb << 20, "FSIZE": lim.file_size_mb << 20, "NOFILE": lim.open_files,
                       "CORE": 0}
            if self.privileged:
                rlimits["NPROC"] = lim.pids
            else:  # counts every process of our uid: allow what already runs, plus the run's budget
                rlimits["NPROC"] = sup.count_tasks(sup.processes_of_uid(os.getuid())) + lim.pids
            cpus = sorted(os.sched_getaffinity(0))[: max(1, math.ceil(lim.cpus))]
            companion: dict[str, Any] | None = None
            if spec.companion is not None:
                # Its streams go to a folder only root (or, not root, only we) can enter.
                os.mkdir(os.path.join(root, "companion"), 0o700)
                companion = {
                    "argv": [rewrite(a) for a in spec.companion.argv], "cwd": "/",
                    "env": self._env(spec.companion.env, rewrite, targets), "uid": companion_uid,
                    "gid": companion_uid, "stdout": os.path.join(root, "companion", "stdout"),
                    "stderr": os.path.join(root, "companion", "stderr"), "grace_s": COMPANION_GRACE_S,
                }
            events_r, events_w = os.pipe()
            cfg = {
                "argv": [rewrite(a) for a in spec.argv], "cwd": cwd, "env": env,
                "uid": uid, "gid": gid, "kill_uids": kill_uids, "rlimits": rlimits, "cpus": cpus,
                "timeout_s": lim.timeout_s, "namespaces": self.namespaces, "root": root,
                "mounts": entries, "scratch": list(SCRATCH_DIRS), "scratch_mb": lim.tmp_mb,
                "companion": companion, "events_fd": events_w, "log": os.path.join(root, "supervisor.log"),
                "pids_stop": {"limit": lim.pids, "near": pids_near(lim.pids), "after_s": PIDS_STOP_AFTER_S},
            }
            cfg_path = os.path.join(root, "supervisor.json")
            with open(os.open(cfg_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
                json.dump(cfg, f)
            started = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-I", SUPERVISOR, cfg_path], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(events_w,),
                                    start_new_session=True, cwd="/")
            os.close(events_w)
            events_w = -1
            done, out, err, stalled = self._watch(proc, events_r, lim.timeout_s
                                                  + (COMPANION_GRACE_S if companion is not None else 0.0))
            wall = time.monotonic() - started
            if done is None or done.get("event") != "done":
                why = (done or {}).get("error") or ("the supervisor stalled and was killed" if stalled
                                                    else "the supervisor exited without a report")
                raise SandboxError(f"local sandbox failed: {why}", hint=self._log_tail(root))
            result = self._result(spec, done, out, err, wall, uid)
            result.details["skipped_on_stage"] = skipped
            if companion is not None:
                status = done["companion_status"]
                result.companion = CompanionResult(
                    exit_code=None if status is None else os.waitstatus_to_exitcode(status),
                    stdout=_file_tail(companion["stdout"]), stderr=_file_tail(companion["stderr"]))
                result.details["companion_uid"] = companion_uid if companion_uid is not None else os.getuid()
            self._collect(mounts, entries, done, result)
            return result
        finally:
            self._cleanup(proc, kill_uids, root, (events_r, events_w))

    # ------------------------------------------------------------------ steps

    @staticmethod
    def _check(spec: RunSpec) -> list[Mount]:
        check_spec(spec)
        mounts = list(spec.mounts)
        if all(m.target != "/tmp" for m in mounts):
            mounts.append(Mount("/tmp", writable=True, size_mb=spec.limits.tmp_mb))
        return sorted(mounts, key=lambda m: m.target.count("/"))

    def _pick_uid(self) -> tuple[int | None, int | None, bool]:
        """The command's uid and gid (``None``: ours), and whether the uid is dedicated to this run."""
        if not self.privileged:
            return None, None, False
        if self.uid is not None:
            return self.uid, self.uid, False
        uid = self._fresh_uid(exclude=set())
        return uid, uid, True

    @staticmethod
    def _fresh_uid(exclude: set[int]) -> int:
        """An unused uid (no process, no account) from the sandbox range, so killing all of it is safe."""
        used = {u for _pp, u in sup._proc_table().values()} | exclude
        for _ in range(1000):
            uid = UID_BASE + secrets.randbelow(UID_SPAN)
            if uid in used:
                continue
            try:
                pwd.getpwuid(uid)
            except KeyError:
                return uid
        raise SandboxError("no free uid for the local sandbox")

    def _stage(self, root: str, mounts: list[Mount], uid: int | None, companion_uid: int | None, *,
               shared_tmp: bool) -> tuple[list[dict], list]:
        """Create and fill each mount's host folder, owned and moded as the sandbox will see it.

        ``uid`` owns writable mounts, ``companion_uid`` the companion-only ones (``None``: we do).
        ``shared_tmp``: ``/tmp`` gets mode 1777, so a companion of another uid can write there too.
        """
        fs = os.path.join(root, "fs")
        os.mkdir(fs, 0o755)
        os.mkdir(os.path.join(root, "out"), 0o700)
        entries, skipped = [], []
        for i, m in enumerate(mounts):
            path = fs + m.target
            os.makedirs(path, 0o755, exist_ok=True)
            owner = companion_uid if m.companion_only else uid if m.writable else None
            if m.companion_only:
                mode = 0o700 if m.writable else 0o500
            else:
                mode = 0o1777 if m.writable and shared_tmp and m.target == "/tmp" else 0o755
            if m.source is not None:
                copy_skipped: list[str] = []
                sup.copy_tree(str(m.source), path, uid=owner if m.writable else None,
                              gid=owner if m.writable else None, readonly=not m.writable, skipped=copy_skipped)
                skipped += [f"{m.target}/{s}" for s in copy_skipped]
            if owner is not None:
                os.chown(path, owner, owner)
            os.chmod(path, mode)
            entries.append({"target": m.target, "path": path, "writable": m.writable, "size_mb": m.size_mb,
                            "uid": owner if m.writable else None, "gid": owner if m.writable else None,
                            "mode": mode, "out": os.path.join(root, "out", str(i)) if m.collect_to else None})
        if not self.privileged:  # the candidate is the owner: all we can do is drop write bits
            keep = {e["path"] for m, e in zip(mounts, entries, strict=True) if m.writable or m.companion_only}
            for dirpath, dirs, _files in os.walk(fs, topdown=True):
                dirs[:] = [d for d in dirs if os.path.join(dirpath, d) not in keep]
                os.chmod(dirpath, 0o555)
        return entries, skipped

    @staticmethod
    def _rewriter(targets: dict[str, str]):
        order = sorted(targets, key=len, reverse=True)

        def rewrite(value: str) -> str:
            for t in order:
                if value == t or value.startswith(t + "/"):
                    return targets[t] + value[len(t):]
            return value

        return rewrite

    @staticmethod
    def _workdir(root: str, workdir: str, rewrite) -> str:
        cwd = rewrite(workdir)
        if cwd != workdir or os.path.isdir(cwd):
            return cwd
        cwd = os.path.join(root, "fs") + workdir  # not a mount and not on the host: an empty folder
        os.makedirs(cwd, 0o755, exist_ok=True)
        return cwd

    def _env(self, spec_env: dict[str, str], rewrite, targets: dict[str, str]) -> dict[str, str]:
        """The environment of the command or the companion: defaults, then ``spec_env`` rewritten."""
        interp = self._interpreter_dir()
        env = {"PATH": f"{interp}:{DEFAULT_PATH}" if interp else DEFAULT_PATH, "LANG": "C.UTF-8",
               "HOME": targets["/tmp"], "TMPDIR": targets["/tmp"]}
        for key, value in spec_env.items():
            env[key] = ":".join(rewrite(part) for part in value.split(":"))
        env["HOME"] = env["TMPDIR"] = targets["/tmp"]
        return env

    def _watch(self, proc: subprocess.Popen[bytes], events_r: int, timeout_s: float):
        """Read the streams (keeping tails) and the supervisor's events until it is done."""
        assert proc.stdout is not None and proc.stderr is not None
        out, err = StreamTail(), StreamTail()
        sinks = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        sel = selectors.DefaultSelector()
        for fd in (*sinks, events_r):
            sel.register(fd, selectors.EVENT_READ)
        launched = time.monotonic()
        started_at: float | None = None
        drain_until: float | None = None
        done: dict | None = None
        events = b""
        stalled = False
        try:
            while sel.get_map():
                now = time.monotonic()
                if drain_until is None and done is not None and proc.poll() is not None:
                    drain_until = now + 1.0  # anything still holding the pipes is dead: read what is left
                limit = drain_until or (started_at + timeout_s + self.grace_s if started_at
                                        else launched + self.setup_timeout_s)
                if now >= limit:
                    stalled = drain_until is None
                    break
                for key, _ in sel.select(timeout=min(0.2, limit - now)):
                    data = os.read(key.fd, 65536)
                    if not data:
                        sel.unregister(key.fd)
                    elif key.fd == events_r:
                        events += data
                        *lines, events = events.split(b"\n")
                        for line in lines:
                            msg = json.loads(line)
                            if msg.get("event") == "started":
                                started_at = time.monotonic()
                            else:
                                done = msg
                    else:
                        sinks[key.fd].add(data)
        finally:
            sel.close()
        if stalled:
            self._kill_group(proc)
        return done, out, err, stalled

    def _result(self, spec: RunSpec, done: dict, out: StreamTail, err: StreamTail, wall: float,
                uid: int | None) -> RunResult:
        lim = spec.limits
        stderr = err.text()
        status = done["status"]
        timed_out = bool(done["timed_out"])
        if timed_out or status is None:
            exit_code = None
        else:
            exit_code = os.waitstatus_to_exitcode(status)
        failed = exit_code not in (0, None)
        peak_mb = done["maxrss_kb"] / 1024 if done.get("maxrss_kb") else None
        oom = failed and (
            any(p in stderr for p in OOM_PATTERNS)
            or (exit_code in (-signal.SIGKILL, -signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS)
                and peak_mb is not None and peak_mb >= 0.9 * lim.memory_mb)
        )
        stopped = bool(done.get("pids_stopped"))
        pids = stopped or done["peak_tasks"] >= lim.pids or (failed and fork_failed(stderr))
        ns = done["namespaces"]
        details: dict[str, object] = {
            "backend": self.name,
            "isolates": False,
            "warning": LOCAL_WARNING,
            "uid": uid if uid is not None else os.getuid(),
            "namespaces": ns,
            "network_isolated": bool(ns.get("net")),
            "network": "none (private network namespace, loopback only)" if ns.get("net")
            else "host network (NOT isolated)",
            "mount_size_capped": done["size_capped"],
            "peak_tasks": done["peak_tasks"],
            "stdout_bytes": out.total,
            "stderr_bytes": err.total,
            "command_duration_s": round(done["duration_s"], 3),
            "exit_code_convention": "-N when killed by signal N; None when stopped at the timeout",
            "skipped_on_collect": done["skipped_on_collect"],
            "notes": done["notes"],
        }
        if done.get("leftovers"):
            details["leftover_pids"] = done["leftovers"]
        if stopped:
            details["stopped_by"] = "pids limit"
        over = []
        for target, info in done["collected"].items():
            used_mb = info["used_bytes"] / (1 << 20)
            cap = next((e for e in spec.mounts if e.target == target), None)
            cap_mb = cap.size_mb if cap is not None else lim.tmp_mb
            if not done["size_capped"].get(target) and used_mb > cap_mb:
                over.append(f"[grader local sandbox] {target} holds {used_mb:.1f} MB, more than its {cap_mb} MB "
                            "(measured after the run): No space left on device")
        if over:
            stderr = (stderr + "\n" + "\n".join(over)).lstrip("\n")
            details["mount_over_size"] = over
        return RunResult(exit_code=exit_code, duration_s=round(done["duration_s"], 3), stdout=out.text(),
                         stderr=stderr, timed_out=timed_out, oom_killed=bool(oom and not timed_out),
                         pids_exhausted=bool(pids), peak_memory_mb=peak_mb, details=details)

    @staticmethod
    def _collect(mounts: list[Mount], entries: list[dict], done: dict, result: RunResult) -> None:
        skipped: list[str] = []
        for m, e in zip(mounts, entries, strict=True):
            if m.collect_to is None:
                continue
            src = e["out"] if done["size_capped"].get(m.target) else e["path"]
            dest = Path(m.collect_to)
            dest.mkdir(parents=True)
            sup.copy_tree(src, str(dest), skipped=skipped)
        if skipped:
            earlier = result.details.get("skipped_on_collect")
            result.details["skipped_on_collect"] = [*(earlier if isinstance(earlier, list) else []), *skipped]

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()

    def _cleanup(self, proc, kill_uids: list[int], root: str, fds: tuple[int, int]) -> None:
        """Runs on every exit path, KeyboardInterrupt included: nothing survives, the run folder goes."""
        try:
            if proc is not None:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)  # the supervisor kills everything, then exits
                    try:
                        proc.wait(self.grace_s)
                    except subprocess.TimeoutExpired:
                        self._kill_group(proc)
                for stream in (proc.stdout, proc.stderr):
                    if stream is not None:
                        stream.close()
            table = sup._proc_table() if kill_uids else {}
            alive = [str(u) for u in kill_uids if sup.processes_of_uid(u, table)]
            if alive:
                log.warning("local sandbox: processes of uid(s) %s outlived the supervisor; killing them",
                            ", ".join(alive))
                subprocess.run([sys.executable, "-I", SUPERVISOR, "--kill-uid", *alive], timeout=30, check=False)
        finally:
            for fd in fds:
                if fd >= 0:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            _rmtree(root)

    @staticmethod
    def _log_tail(root: str) -> str | None:
        try:
            text = Path(root, "supervisor.log").read_text(errors="replace").strip()
        except OSError:
            return None
        return ("supervisor log: " + text[-2000:]) if text else None
