"""``requirements.txt`` rules: every line a pin ``name==version``, compared with the runtime lock.

Versions compare as PEP 440 ``==`` does (the ``packaging`` library): a pin without a local label is
satisfied by the same public version with any local label, so ``torch==2.13.0`` is met by the
runtime's CPU build ``2.13.0+cpu``; a pin with a local label (``torch==2.13.0+cpu``) must match it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._ -]+\])?"  # name and optional [extras]
    r"\s*==\s*(?P<version>[A-Za-z0-9.+!_-]+)\s*(;.*)?$"  # exact version, optional environment marker
)


def canonical(name: str) -> str:
    """PEP 503 name normalisation, so ``Scikit_Learn`` and ``scikit-learn`` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    line: int


def parse(text: str, source: str = "requirements.txt") -> tuple[list[Pin], list[str]]:
    """Pins found and one problem message per line that is not a pin."""
    pins: list[Pin] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if match and not valid_version(match["version"]):
            problems.append(f"{source} line {number}: {line!r}: {match['version']!r} is not a valid version "
                            "(PEP 440); write the version as released, for example numpy==2.4.6 or "
                            "torch==2.13.0")
        elif match:
            pins.append(Pin(canonical(match["name"]), match["version"], number))
        elif line.startswith("-"):
            problems.append(f"{source} line {number}: {line!r} is a pip option; only pins are allowed "
                            "(the sandbox has no network, everything is installed in the runtime already)")
        else:
            problems.append(f"{source} line {number}: {line!r} is not pinned; write it as name==version "
                            "(for example scikit-learn==1.8.0)")
    return pins, problems


def read_lock(path: Path) -> dict[str, str]:
    """The runtime's versions, from the same lock the image is built from."""
    pins, _ = parse(path.read_text(encoding="utf-8"), str(path))
    return {p.name: p.version for p in pins}


def valid_version(version: str) -> bool:
    """Whether ``version`` is a PEP 440 version (``2.13.0``, ``2.13.0+cpu``, ``1.0rc1``)."""
    try:
        Version(version)
    except InvalidVersion:
        return False
    return True


def meets(spec: str, installed: str, *, prereleases: bool | None = None) -> bool | None:
    """Whether ``installed`` meets the PEP 440 specifiers ``spec`` (``==1.8.0``, ``>=1.9``) as pip decides;
    None when either cannot be read as PEP 440."""
    try:
        return SpecifierSet(spec).contains(Version(installed), prereleases=prereleases)
    except (InvalidSpecifier, InvalidVersion):
        return None


def satisfies(pinned: str, installed: str) -> bool:
    """Whether ``installed`` meets the pin ``==pinned`` as PEP 440 says: ``2.13.0`` is met by ``2.13.0+cpu``,
    ``2.13.0+cpu`` only by itself. A version that is not PEP 440 (a broken lock) must equal the pin exactly."""
    met = meets(f"=={pinned}", installed, prereleases=True)
    return pinned == installed if met is None else met


def public(version: str) -> str:
    """The version to pin for ``version``: without its local label (``2.13.0+cpu`` -> ``2.13.0``)."""
    try:
        return Version(version).public
    except InvalidVersion:
        return version


def mismatches(pins: list[Pin], runtime: dict[str, str]) -> list[str]:
    """One warning per pin the runtime does not satisfy (PEP 440 ``==``), with the pin that would."""
    runtime = {canonical(name): version for name, version in runtime.items()}
    out = []
    for pin in pins:
        have = runtime.get(pin.name)
        if have is None:
            out.append(f"{pin.name}=={pin.version} is not installed in the sandbox runtime")
        elif not satisfies(pin.version, have):
            out.append(f"{pin.name}=={pin.version} is pinned but the sandbox runtime has {pin.name}=={have}: "
                       f"pin {pin.name}=={public(have)}")
    return out
