"""``grader sandbox doctor``: is an engine reachable, is the runtime image there, what is enforced."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from grader.errors import SandboxError
from grader.sandbox.docker.client import connect, engine_host


def diagnose(console: Console) -> bool:
    """Print the diagnosis; True when docker grading can run as things are."""
    table = Table("check", "status", "detail", title="grader sandbox doctor", title_justify="left")
    try:
        client = connect(timeout=10)
        version = client.version()
    except SandboxError as exc:
        table.add_row("docker engine", "[red]unreachable[/]", exc.message)
        console.print(table)
        console.print(f"hint: {exc.hint}")
        return False
    except Exception as exc:  # noqa: BLE001 - any failure here means "not reachable"
        table.add_row("docker engine", "[red]unreachable[/]", f"{engine_host()}: {exc}")
        console.print(table)
        return False
    table.add_row("docker engine", "[green]reachable[/]", f"{engine_host()}, server {version.get('Version')}, "
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
