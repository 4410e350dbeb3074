"""Supervisor of one local-sandbox run: a small, standard-library-only process.

:class:`grader.sandbox.local.backend.LocalSandbox` starts it as ``python -I supervisor.py CONFIG`` in its own
session. It makes itself a child subreaper (``PR_SET_CHILD_SUBREAPER``: orphaned descendants,
including ones that called ``setsid`` or double-forked, are re-parented to it rather than to init),
sets up what isolation it can (mount, network, pid, ipc, uts namespaces when root or when
unprivileged user namespaces work; size-capped tmpfs for writable mounts; read-only bind mounts),
then forks a small "init" shim which forks the command with its resource limits and uid. When the
config has a ``companion``, the shim forks it too once the command has exec'd: same namespaces,
limits and ``no_new_privs``, but its own uid, argv, env and cwd, and stdout/stderr redirected to
files (opened as root before the uid drop, in a folder only root can enter).

When the command exits, or at the timeout, or on SIGTERM, it kills every remaining descendant
(the companion included, and every process of the ``kill_uids``: the run's dedicated uids) and
waits until none is left, copies the writable mounts' content out when they were tmpfs, and
reports one JSON line on the status fd. Its own diagnostics go to a log file, never to the
command's stdout/stderr.

Status fd protocol (one line each): ``{"event": "started"}`` when the command was launched, then
``{"event": "done", ...}`` with the outcome (``companion_status`` is ``None`` when the companion
had not ended by the end of its ``grace_s`` after the command's end; it was then killed;
``pids_stopped`` when the run was stopped for holding its ``pids_stop`` limit). Exit
statuses use the ``os.wait`` encoding.

This file is also imported by ``backend.py`` for :func:`copy_tree` and :func:`kill_uid`.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import resource
import select
import signal
import socket
import stat
import struct
import sys
import time
import traceback

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
#: statvfs f_flag bits -> mount flags that a bind remount must keep (the kernel refuses to drop
#: "locked" ones inside a user namespace).
_ST_TO_MS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME,
             2048: MS_NODIRATIME, 4096: MS_RELATIME}

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1

RLIMITS = {"DATA": resource.RLIMIT_DATA, "AS": resource.RLIMIT_AS, "NPROC": resource.RLIMIT_NPROC,
           "FSIZE": resource.RLIMIT_FSIZE, "NOFILE": resource.RLIMIT_NOFILE, "CORE": resource.RLIMIT_CORE}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl({option})")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return None if s is None else os.fsencode(s)

    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


# --------------------------------------------------------------------------- file copying


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def copy_tree(src: str, dst: str, *, uid: int | None = None, gid: int | None = None, readonly: bool = False,
              skipped: list[str] | None = None, _root: tuple[str, str] | None = None) -> int:
    """Copy ``src``'s content into the existing folder ``dst``; return the bytes copied.

    Only regular files, folders and relative symlinks that resolve inside ``src`` are copied
    (others, and fifos/sockets/devices, are listed in ``skipped``): a tree written by a candidate
    can never make the copier read or link outside it. Modes are normalised (``0o644``/``0o755``,
    write bits dropped when ``readonly``) so another uid can read the copy; ``uid``/``gid`` chown it.
    """
    if _root is None:
        _root = (os.path.realpath(src), src)
    real_root, top = _root
    total = 0
    with os.scandir(src) as entries:
        for entry in entries:
            s, d = entry.path, os.path.join(dst, entry.name)
            st = entry.stat(follow_symlinks=False)
            rel = os.path.relpath(s, top)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(d, 0o700)
                total += copy_tree(s, d, uid=uid, gid=gid, readonly=readonly, skipped=skipped, _root=_root)
                _finish(d, 0o555 if readonly else 0o755, uid, gid)
            elif stat.S_ISREG(st.st_mode):
                fd = os.open(s, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                try:
                    with open(fd, "rb", closefd=False) as fin, open(d, "xb") as fout:
                        while chunk := fin.read(1 << 20):
                            fout.write(chunk)
                            total += len(chunk)
                finally:
                    os.close(fd)
                mode = 0o644 | (0o111 if st.st_mode & 0o111 else 0)
                _finish(d, mode & ~0o222 if readonly else mode, uid, gid)
            elif stat.S_ISLNK(st.st_mode) and not os.readlink(s).startswith("/") \
                    and _inside(os.path.realpath(s), real_root):
                os.symlink(os.readlink(s), d)
                if uid is not None:
                    os.lchown(d, uid, gid if gid is not None else -1)
            elif skipped is not None:
                skipped.append(rel)
    return total


def _finish(path: str, mode: int, uid: int | None, gid: int | None) -> None:
    if uid is not None:
        os.chown(path, uid, gid if gid is not None else -1)
    os.chmod(path, mode)


def tree_size(path: str) -> int:
    """Bytes of regular files under ``path`` (not following links)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_blocks * 512 if st.st_blocks else st.st_size
    return total


# --------------------------------------------------------------------------- processes


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, real uid) for every process on the host."""
    table: dict[int, tuple[int, int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as f:
                ppid = uid = -1
                for line in f:
                    if line.startswith(b"PPid:"):
                        ppid = int(line.split()[1])
                    elif line.startswith(b"Uid:"):
                        uid = int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
        table[int(name)] = (ppid, uid)
    return table


def descendants(root_pid: int, table: dict[int, tuple[int, int]] | None = None) -> list[int]:
    table = _proc_table() if table is None else table
    children: dict[int, list[int]] = {}
    for pid, (ppid, _uid) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], list(children.get(root_pid, []))
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def processes_of_uid(uid: int, table: dict[int, tuple[int, int]] | None = None) -> list[int]:
    table = _proc_table() if table is None else table
    return [pid for pid, (_ppid, puid) in table.items() if puid == uid]


def count_tasks(pids: list[int]) -> int:
    n = 0
    for pid in pids:
        try:
            n += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return n


def kill_uid(uid: int) -> None:
    """SIGKILL every process whose real uid is ``uid`` (root only; ``uid`` must be dedicated to one run).

    Signals as that uid (``kill(-1)`` with real and effective uid set to it), which is atomic with
    respect to forks in a way a /proc scan is not, then switches back to root.
    """
    if uid <= 0:
        raise ValueError("refusing to kill(-1) as root")
    os.setresuid(uid, uid, 0)
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        os.setresuid(0, 0, 0)


def reap() -> list[int]:
    """Collect every exited child without blocking; return their pids."""
    done: list[int] = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done.append(pid)


# --------------------------------------------------------------------------- isolation set-up


class Setup:
    def __init__(self, cfg: dict, log) -> None:
        self.cfg, self.log = cfg, log
        self.ns: dict[str, bool] = {}
        self.notes: list[str] = []
        self.mountns = False
        self.pidns = False

    def note(self, msg: str) -> None:
        self.notes.append(msg)
        print(msg, file=self.log, flush=True)

    def _try_unshare(self, key: str, flag: int) -> bool:
        try:
            unshare(flag)
            self.ns[key] = True
        except OSError as exc:
            self.ns[key] = False
            self.note(f"{key} namespace unavailable: {exc.strerror}")
        return self.ns[key]

    def namespaces(self) -> None:
        cfg = self.cfg
        if not cfg["namespaces"]:
            self.ns = {k: False for k in ("user", "mount", "net", "pid", "ipc", "uts")}
            return
        if os.geteuid() != 0:
            uid, gid = os.getuid(), os.getgid()
            if self._try_unshare("user", CLONE_NEWUSER):
                try:
                    for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"{uid} {uid} 1"),
                                       ("/proc/self/gid_map", f"{gid} {gid} 1")):
                        with open(path, "w") as f:
                            f.write(text)
                except OSError as exc:
                    self.note(f"user namespace mapping failed: {exc}")
                    self.ns["user"] = False
            if not self.ns["user"]:
                self.ns.update(mount=False, net=False, pid=False, ipc=False, uts=False)
                self.note("no namespaces: running with the host's network, mounts and processes")
                return
        else:
            self.ns["user"] = False
        if self._try_unshare("mount", CLONE_NEWNS):
            try:
                mount(None, "/", None, MS_REC | MS_PRIVATE)
                self.mountns = True
            except OSError as exc:
                self.note(f"cannot make mounts private, not mounting anything: {exc}")
        if self._try_unshare("net", CLONE_NEWNET):
            self._loopback_up()
        self._try_unshare("ipc", CLONE_NEWIPC)
        if self._try_unshare("uts", CLONE_NEWUTS):
            try:
                socket.sethostname("sandbox")
            except OSError:
                pass
        # Needs /proc remounted by the shim to hide host processes, hence the mount namespace.
        if self.mountns:
            self.pidns = self._try_unshare("pid", CLONE_NEWPID)
        else:
            self.ns["pid"] = False

    def _loopback_up(self) -> None:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                ifr = struct.pack("16sh14x", b"lo", 0)
                flags = struct.unpack("16sh14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
                fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | IFF_UP))
        except OSError as exc:
            self.note(f"loopback left down: {exc}")

    def mounts(self) -> dict[str, bool]:
        """Size-capped tmpfs for writable mounts, read-only binds for the others, private scratch dirs."""
        cfg, capped = self.cfg, {}
        # Parents before children, so a nested mount lands inside its parent's mount.
        for m in sorted(cfg["mounts"], key=lambda m: m["path"].count("/")):
            path = m["path"]
            if m["writable"]:
                # Owner and mode as staged: the command's (or, companion-only, the companion's) uid.
                uid = m["uid"] if m["uid"] is not None else os.getuid()
                gid = m["gid"] if m["gid"] is not None else os.getgid()
                under = os.open(path, os.O_PATH | os.O_DIRECTORY)
                try:
                    mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV,
                          f"size={m['size_mb']}m,mode={m['mode']:o},uid={uid},gid={gid}")
                    copy_tree(f"/proc/self/fd/{under}", path, uid=m["uid"], gid=m["gid"])
                    capped[m["target"]] = True
                finally:
                    os.close(under)
            else:
                mount(path, path, None, MS_BIND | MS_REC)
                flags = os.statvfs(path).f_flag
                keep = 0
                for st_bit, ms_bit in _ST_TO_MS.items():
                    if flags & st_bit:
                        keep |= ms_bit
                mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | keep)
        # Private scratch over the host's world-writable folders. The run folder usually lives
        # in /tmp: keep a handle on it and bind it back at the same path afterwards.
        root = cfg["root"]
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
        try:
            hidden = False
            for d in cfg["scratch"]:
                if os.path.isdir(d) and not os.path.islink(d):
                    mount("tmpfs", d, "tmpfs", MS_NOSUID | MS_NODEV, f"size={cfg['scratch_mb']}m,mode=1777")
                    hidden = hidden or _inside(root, d)
            if hidden:
                os.makedirs(root, 0o711, exist_ok=True)
                mount(f"/proc/self/fd/{root_fd}", root, None, MS_BIND | MS_REC)
        finally:
            os.close(root_fd)
        return capped


# --------------------------------------------------------------------------- the command


def _exec_command(cfg: dict, status_w: int) -> None:
    """In the command's (or the companion's) process: streams, limits, uid, cwd, exec. Never returns.

    ``cfg`` may name ``stdout``/``stderr`` files: they are created while still root, so they can
    sit where the process's own uid cannot reach them (the companion's output).
    """
    try:
        os.close(status_w)
        for fd, key in ((1, "stdout"), (2, "stderr")):
            if cfg.get(key):
                out = os.open(cfg[key], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.dup2(out, fd)
                os.close(out)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for name, value in cfg["rlimits"].items():
            resource.setrlimit(RLIMITS[name], (value, value))
        if cfg["cpus"]:
            os.sched_setaffinity(0, cfg["cpus"])
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        if cfg["uid"] is not None:
            os.setgroups([])
            os.setresgid(cfg["gid"], cfg["gid"], cfg["gid"])
            os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.umask(0o022)
        os.chdir(cfg["cwd"])
    except BaseException as exc:  # noqa: BLE001 - report anything, then die
        os.write(2, f"grader local sandbox: cannot set up the command: {exc}\n".encode())
        os._exit(126)
    argv, env = cfg["argv"], cfg["env"]
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as exc:
        os.write(2, f"grader local sandbox: cannot run {argv[0]!r}: {exc.strerror}\n".encode())
        os._exit(127 if exc.errno == errno.ENOENT else 126)


def _shim(cfg: dict, setup: Setup, status_w: int) -> None:
    """The command's parent: pid 1 of the new pid namespace when there is one. Never returns."""
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if setup.pidns and os.getpid() == 1:
            # A /proc for the new pid namespace, in a mount namespace of the shim's own: the
            # supervisor must keep the host's /proc, or its scans would see namespace pids.
            try:
                unshare(CLONE_NEWNS)
                mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            except OSError as exc:
                print(f"shim: cannot remount /proc: {exc}", file=setup.log, flush=True)
        exec_r, exec_w = os.pipe()  # close-on-exec: EOF once the command runs (or died trying)
        cmd = os.fork()
        if cmd == 0:
            _exec_command(cfg, status_w)
        os.close(exec_w)
        companion = None
        if cfg.get("companion"):
            os.read(exec_r, 1)
            companion = os.fork()
            if companion == 0:
                _exec_command({**cfg, **cfg["companion"]}, status_w)
        os.close(exec_r)
        # Report each as it ends. Once the command has ended, a companion still running gets
        # ``grace_s`` to exit by itself (one that is just finishing should report its status);
        # then the shim exits, which ends the pid namespace, and the supervisor sweeps the rest.
        waiting = {pid for pid in (cmd, companion) if pid is not None}
        grace_end: float | None = None
        while waiting:
            try:
                pid, status = os.waitpid(-1, 0 if grace_end is None else os.WNOHANG)
            except ChildProcessError:
                break
            if pid in waiting:
                waiting.discard(pid)
                os.write(status_w, json.dumps({"companion" if pid == companion else "status": status}).encode()
                         + b"\n")
                if pid == cmd:
                    grace_end = time.monotonic() + cfg["companion"]["grace_s"] if waiting else None
            elif pid == 0:
                if grace_end is None or time.monotonic() >= grace_end:
                    break
                time.sleep(0.01)
    except BaseException:  # noqa: BLE001
        traceback.print_exc(file=setup.log)
    os._exit(0)  # as pid 1 this makes the kernel kill everything left in the namespace


# --------------------------------------------------------------------------- the supervisor


def supervise(cfg: dict, events: int, log) -> dict:
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    stop = {"term": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(term=True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    setup = Setup(cfg, log)
    setup.namespaces()
    capped: dict[str, bool] = {}
    if setup.mountns:
        capped = setup.mounts()

    status_r, status_w = os.pipe()
    shim = os.fork()
    if shim == 0:
        os.close(status_r)
        _shim(cfg, setup, status_w)
    os.close(status_w)
    os.write(events, b'{"event": "started"}\n')
    me = os.getpid()
    nproc = cfg["rlimits"].get("NPROC")
    # The companion's own processes do not count toward the command's task peak (when it has a uid
    # of its own to tell them apart by).
    companion_uid = (cfg.get("companion") or {}).get("uid")
    grace_s = (cfg.get("companion") or {}).get("grace_s", 0.0)

    # A run held near its process limit (a fork bomb) is stopped instead of waited for until the timeout.
    pids_stop = cfg.get("pids_stop") or {}
    near_since: float | None = None
    pids_stopped = False

    start = time.monotonic()
    deadline = start + cfg["timeout_s"]
    timed_out, status, peak_tasks, buf, shim_reaped = False, None, 0, b"", False
    companion_status, ended = None, None
    while True:
        now = time.monotonic()
        if stop["term"]:
            break
        if now >= deadline:
            timed_out = ended is None
            break
        if near_since is not None and ended is None and peak_tasks >= pids_stop["limit"] \
                and now - near_since >= pids_stop["after_s"]:
            pids_stopped = True
            break
        # Scan often at first (short runs, fork bombs), then every quarter second.
        interval = 0.05 if now - start < 2 else 0.25
        ready, _, _ = select.select([status_r], [], [], min(interval, deadline - now))
        table = _proc_table()
        procs = [p for p in descendants(me, table)
                 if p != shim and (companion_uid is None or table[p][1] != companion_uid)]
        tasks = count_tasks(procs)
        peak_tasks = max(peak_tasks, tasks)
        if pids_stop and tasks >= pids_stop["near"]:
            near_since = now if near_since is None else near_since
        else:
            near_since = None
        shim_reaped = shim_reaped or shim in reap()
        if ready:
            chunk = os.read(status_r, 4096)
            *lines, buf = (buf + chunk).split(b"\n")
            msgs = [json.loads(line) for line in lines if line.strip()]
            for msg in msgs:
                companion_status = msg.get("companion", companion_status)
                if "status" in msg:  # the shim exits once the companion's grace is over
                    status, ended = msg["status"], time.monotonic()
                    deadline = ended + grace_s + 1.0
            if not chunk:
                break
    duration = (ended or time.monotonic()) - start

    # Kill everything that is left: the shim first (with a pid namespace that takes the whole
    # namespace down), then sweep descendants and the run's uid until nothing remains.
    if not shim_reaped:  # never signal a reaped pid: it may belong to someone else by now
        os.kill(shim, signal.SIGKILL)
    leftovers = _sweep(me, cfg["kill_uids"])
    os.close(status_r)

    collected: dict[str, dict] = {}
    skipped: list[str] = []
    for m in cfg["mounts"]:
        if m["writable"] and setup.mountns and m["out"]:
            os.mkdir(m["out"], 0o700)
            used = tree_size(m["path"])
            copy_tree(m["path"], m["out"], skipped=skipped)
            collected[m["target"]] = {"used_bytes": used}
        elif m["writable"]:
            collected[m["target"]] = {"used_bytes": tree_size(m["path"])}
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "event": "done", "status": status, "timed_out": timed_out, "terminated": stop["term"],
        "duration_s": duration, "maxrss_kb": ru.ru_maxrss, "peak_tasks": peak_tasks, "nproc_limit": nproc,
        "namespaces": setup.ns, "size_capped": capped, "collected": collected, "skipped_on_collect": skipped,
        "leftovers": leftovers, "notes": setup.notes, "companion_status": companion_status,
        "pids_stopped": pids_stopped,
    }


def _sweep(me: int, uids: list[int], budget_s: float = 10.0) -> list[int]:
    """Kill our descendants and every process of ``uids`` (dedicated to this run) until none is left."""
    end = time.monotonic() + budget_s
    while True:
        table = _proc_table()
        pids = set(descendants(me, table))
        for uid in uids:
            pids.update(processes_of_uid(uid, table))
        pids.discard(me)
        if not pids:
            return []
        for pid in pids:  # stop first so nobody forks while we kill
            try:
                os.kill(pid, signal.SIGSTOP)
            except OSError:
                pass
        for uid in uids:
            kill_uid(uid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap()
        if time.monotonic() > end:
            return sorted(pids)
        time.sleep(0.01)


def main(argv: list[str]) -> int:
    if argv[1:] == ["--probe"]:  # which namespaces can be had here (in this throwaway process)
        setup = Setup({"namespaces": True}, sys.stderr)
        setup.namespaces()
        print(json.dumps(setup.ns))
        return 0
    if len(argv) >= 3 and argv[1] == "--kill-uid":  # --kill-uid UID [UID...]
        uids = [int(a) for a in argv[2:]]
        for _ in range(100):
            table = _proc_table()
            alive = [uid for uid in uids if processes_of_uid(uid, table)]
            if not alive:
                return 0
            for uid in alive:
                kill_uid(uid)
            time.sleep(0.02)
        return 1
    with open(argv[1]) as f:
        cfg = json.load(f)
    events = cfg["events_fd"]
    os.set_inheritable(events, False)
    log = open(cfg["log"], "a", buffering=1)  # noqa: SIM115
    sys.stderr = log
    try:
        result = supervise(cfg, events, log)
    except BaseException as exc:  # noqa: BLE001
        traceback.print_exc(file=log)
        result = {"event": "error", "error": f"{type(exc).__name__}: {exc}"}
        try:
            _sweep(os.getpid(), cfg.get("kill_uids", []))
        except BaseException:  # noqa: BLE001
            traceback.print_exc(file=log)
    os.write(events, json.dumps(result).encode() + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
