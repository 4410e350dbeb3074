"""The runtime image: built from the lock, reused as is, and holding exactly the lock's versions."""

from __future__ import annotations

import json
import time

import docker
import pytest

from grader.sandbox.docker import image as runtime

pytestmark = pytest.mark.docker

CHECKED = ("numpy", "pandas", "scikit-learn", "scipy", "joblib", "torch")

VERSIONS_SCRIPT = """
import json, importlib.metadata as md
import numpy, pandas, sklearn, scipy, joblib, torch
assert float(torch.ones(2).sum()) == 2.0 and not torch.cuda.is_available()
print(json.dumps({name: md.version(name) for name in CHECKED}))
""".replace("CHECKED", repr(CHECKED))


@pytest.fixture(scope="module")
def client() -> docker.DockerClient:
    return docker.from_env()


@pytest.fixture(scope="module")
def image_id(client: docker.DockerClient) -> str:
    """Builds the image only when it is missing (minutes); otherwise one API call."""
    return runtime.ensure_image(client)


def test_image_exists_after_ensure_image(client: docker.DockerClient, image_id: str) -> None:
    image = client.images.get(runtime.runtime_tag())
    assert image.id == image_id
    assert image.labels.get("grader.lock-hash") == runtime.lock_hash()
    info = runtime.image_info(client)
    assert info["present"] and info["id"] == image_id


def test_ensure_image_is_a_noop_when_present(client: docker.DockerClient, image_id: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("ensure_image did build work although the image exists")

    for step in ("ensure_base_image", "ensure_wheelhouse", "build_runtime"):
        monkeypatch.setattr(runtime, step, forbidden)
    messages: list[str] = []
    started = time.monotonic()
    assert runtime.ensure_image(client, progress=messages.append) == image_id
    assert time.monotonic() - started < 5
    assert messages == []


def test_container_has_exactly_the_locked_versions(client: docker.DockerClient, image_id: str) -> None:
    output = client.containers.run(image_id, ["python", "-c", VERSIONS_SCRIPT], user="10001:10001",
                                   read_only=True, network_disabled=True, remove=True,
                                   tmpfs={"/tmp": "rw,size=64m"}, environment={"HOME": "/tmp"})
    found = json.loads(output.decode().strip().splitlines()[-1])
    locked = runtime.locked_versions()
    # torch is the CPU build: 2.13.0+cpu installed for the pin torch==2.13.0.
    assert {name: version.split("+")[0] for name, version in found.items()} == {name: locked[name] for name in CHECKED}
    assert found["torch"].endswith("+cpu")
