"""``grader sandbox``: build the runtime image, diagnose the engine, remove what crashed graders left."""

from __future__ import annotations

import sys

import click


@click.group()
def sandbox() -> None:
    """Build, inspect and clean up the sandbox runtime."""


@sandbox.command("build")
@click.option("--force", is_flag=True, help="Rebuild even if the runtime image exists.")
def sandbox_build(force: bool) -> None:
    """Build the candidate runtime image (offline when no registry is reachable), reusing what exists."""
    from grader.cli.console import err, out
    from grader.sandbox.docker.image import ensure_image

    with err.status("Building the runtime image", spinner="dots") as status:
        def progress(message: str) -> None:
            status.update(message)
            err.log(message)

        image_id = ensure_image(force=force, progress=progress)
    out.print(f"runtime image ready: {image_id}")


@sandbox.command("doctor")
def sandbox_doctor() -> None:
    """Say whether a Docker engine is reachable, which runtime image is present, and the hardening in force."""
    from grader.cli.console import out
    from grader.sandbox.docker.doctor import diagnose

    sys.exit(0 if diagnose(out) else 4)


@sandbox.command("prune")
@click.option("--all", "everything", is_flag=True,
              help="Also remove live sessions' containers, gradings in progress included (the old meaning).")
def sandbox_prune(everything: bool) -> None:
    """Remove what graders that died left behind: the containers, volumes and images of sessions whose
    grader process is gone (on this machine or another sharing the engine). Live sessions are spared."""
    from grader.cli.console import out
    from grader.sandbox.cleanup import prune

    removed = prune("docker", all=everything)
    out.print(f"removed {len(removed)} leftover container(s)/volume(s)")
