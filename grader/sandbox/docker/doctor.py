"""``grader sandbox doctor``: is an engine reachable, is the runtime image there, what is enforced."""

from __future__ import annotations

import os

from rich.console import Console
from rich.table import Table


def diagnose(console: Console) -> bool:
    """Print the diagnosis; True when docker grading can run as things are."""
    import docker

    table = Table("check", "status", "detail", title="grader sandbox doctor", title_justify="left")
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock (default)")
    try:
        client = docker.from_env(timeout=10)
        version = client.version()
    except Exception as exc:  # noqa: BLE001 - any failure here means "not reachable"
        table.add_row("docker engine", "[red]unreachable[/]", f"{host}: {exc}")
        console.print(table)
        console.print("hint: start dockerd (see .ci/docker-up.sh) or point DOCKER_HOST at a running engine")
        return False
    table.add_row("docker engine", "[green]reachable[/]", f"{host}, server {version.get('Version')}, "
                  f"API {version.get('ApiVersion')}")

    from grader.sandbox.docker.image import image_info

    info = image_info(client)
    if info.get("present"):
        table.add_row("runtime image", "[green]present[/]", f"{info['tag']} id {info['id']}")
    else:
        table.add_row("runtime image", "[red]missing[/]", f"{info['tag']}: run `grader sandbox build`")
    versions: dict[str, str] = info.get("versions") or {}  # type: ignore[assignment]
    if versions:
        table.add_row("runtime packages", "", ", ".join(f"{k}=={v}" for k, v in sorted(versions.items())))

    from grader.sandbox.docker.backend import DockerSandbox

    box = DockerSandbox(client=client)
    try:
        described = box.describe()
    finally:
        box.close()
    hardening: list[str] = described.get("hardening") or []  # type: ignore[assignment]
    for option in hardening:
        table.add_row("hardening", "[green]in force[/]", str(option))
    console.print(table)
    return bool(info.get("present"))
