"""Where the offline base image's Debian packages come from: the machine's own apt configuration.

``debootstrap`` needs a Debian mirror. The grader names none of its own: it uses the one this
machine's apt already uses (``/etc/apt/sources.list``, ``sources.list.d/*.list`` one-line entries
and deb822 ``*.sources`` files), and the proxy apt is told to use (``Acquire::http::Proxy``), so the
image builds behind whatever mirror or proxy the machine is set up with. ``GRADER_DEBIAN_MIRROR``
overrides the mirror.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from grader.errors import SandboxError

APT_DIR = Path("/etc/apt")
MIRROR_ENV = "GRADER_DEBIAN_MIRROR"
#: Debian's release names and aliases: an entry for one of them is a Debian archive (a mirror that
#: carries one release carries the others), unlike Ubuntu's or a vendor's repository.
DEBIAN_SUITES = frozenset({"buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid", "oldoldstable",
                           "oldstable", "stable", "testing", "unstable"})
#: Schemes debootstrap can fetch from (apt's ``mirror+``, ``tor+`` and ``cdrom:`` methods it cannot).
SCHEMES = ("http://", "https://", "ftp://", "file:/")


@dataclass(frozen=True)
class Source:
    """One apt source: a binary (``deb``) archive, its suites and components, and where it was read."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...]
    origin: str


def _one_line(path: Path) -> Iterator[Source]:
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        line = re.sub(r"\[[^\]]*\]", " ", line)  # [arch=amd64 signed-by=...] options
        kind, *rest = line.split()
        if kind == "deb" and len(rest) >= 2:
            yield Source(rest[0].rstrip("/"), (rest[1],), tuple(rest[2:]), str(path))


def _deb822(path: Path) -> Iterator[Source]:
    text = path.read_text(encoding="utf-8", errors="replace")
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in paragraph.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key is not None:  # a continuation line
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
            continue
        suites = tuple(fields.get("suites", "").split())
        components = tuple(fields.get("components", "").split())
        for uri in fields.get("uris", "").split():
            yield Source(uri.rstrip("/"), suites, components, str(path))


def apt_sources(root: Path = APT_DIR) -> list[Source]:
    """The machine's binary apt sources, in apt's reading order."""
    found: list[Source] = []
    main = root / "sources.list"
    if main.is_file():
        found += _one_line(main)
    folder = root / "sources.list.d"
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.suffix == ".list":
            found += _one_line(path)
        elif path.suffix == ".sources":
            found += _deb822(path)
    return found


def debian_mirror(suite: str, *, root: Path = APT_DIR, env: Mapping[str, str] = os.environ) -> str:
    """The Debian mirror to debootstrap ``suite`` from: ``GRADER_DEBIAN_MIRROR``, else apt's own.

    Apt's entries are taken in order; one for ``suite`` itself wins, else one for another Debian
    release. Update and security suites (``bookworm-updates``) do not count: they are other archives.
    Raises :class:`SandboxError` when neither gives a mirror.
    """
    override = env.get(MIRROR_ENV, "").strip()
    if override:
        return override.rstrip("/")
    usable = [s for s in apt_sources(root)
              if s.uri.startswith(SCHEMES) and (not s.components or "main" in s.components)]
    for wanted in ({suite}, DEBIAN_SUITES):
        for source in usable:
            if wanted & set(source.suites):
                return source.uri
    where = ", ".join(sorted({s.origin for s in apt_sources(root)})) or f"nothing under {root}"
    raise SandboxError(f"no Debian mirror to build the offline base image from: apt's sources ({where}) have no "
                       f"`deb` entry for {suite} or another Debian release",
                       f"set {MIRROR_ENV} to a Debian mirror's URL (the one this network allows), or add it to "
                       "/etc/apt/sources.list")


_PROXY = re.compile(r"Acquire::(https?|ftp)::Proxy\s+\"([^\"]*)\"\s*;", re.IGNORECASE)


def apt_proxies(root: Path = APT_DIR) -> dict[str, str]:
    """``{scheme: proxy URL}`` from apt's ``Acquire::<scheme>::Proxy`` settings (later files win, as in apt)."""
    files = [root / "apt.conf"] if (root / "apt.conf").is_file() else []
    folder = root / "apt.conf.d"
    files += sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    proxies: dict[str, str] = {}
    for path in files:
        for scheme, url in _PROXY.findall(path.read_text(encoding="utf-8", errors="replace")):
            if url and url.upper() != "DIRECT" and url.lower() != "false":
                proxies[scheme.lower()] = url
    return proxies


def proxy_env(root: Path = APT_DIR, env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``http_proxy``-style variables for debootstrap from apt's proxy, where the environment sets none."""
    out = {}
    for scheme, url in apt_proxies(root).items():
        name = f"{scheme}_proxy"
        if not (env.get(name) or env.get(name.upper())):
            out[name] = url
    return out


__all__ = ["MIRROR_ENV", "Source", "apt_proxies", "apt_sources", "debian_mirror", "proxy_env"]
