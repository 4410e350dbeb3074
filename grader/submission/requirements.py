"""``requirements.txt`` rules: every line a pin ``name==version``, compared with the runtime lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

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
        if match:
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


def mismatches(pins: list[Pin], runtime: dict[str, str]) -> list[str]:
    out = []
    for pin in pins:
        have = runtime.get(pin.name)
        if have is None:
            out.append(f"{pin.name}=={pin.version} is not installed in the sandbox runtime")
        elif have != pin.version:
            out.append(f"{pin.name}=={pin.version} is pinned but the sandbox runtime has {pin.name}=={have}")
    return out
