"""The Debian mirror and proxy of the offline base image come from the machine's apt configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import SandboxError
from grader.sandbox.docker.debian import apt_sources, debian_mirror, proxy_env

DEB822 = """\
Types: deb
# a comment inside the paragraph
URIs: http://mirror.example.test/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.test/debian-security
Suites: bookworm-security
Components: main
"""


def apt(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "apt"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_deb822_sources_give_the_mirror_of_the_suite(tmp_path: Path) -> None:
    root = apt(tmp_path, {"sources.list.d/debian.sources": DEB822})
    assert debian_mirror("bookworm", root=root, env={}) == "http://mirror.example.test/debian"
    assert [s.suites for s in apt_sources(root)] == [("bookworm", "bookworm-updates"), ("bookworm-security",)]


def test_one_line_sources_with_options_comments_and_deb_src(tmp_path: Path) -> None:
    root = apt(tmp_path, {"sources.list": (
        "# deb http://commented.example.test/debian bookworm main\n"
        "deb-src http://src.example.test/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://vendor.example.test/apt cloud-sdk main\n"
        "deb http://local.example.test/debian/ bookworm main non-free  # trailing comment\n")})
    assert debian_mirror("bookworm", root=root, env={}) == "http://local.example.test/debian"


def test_another_debian_release_is_a_debian_mirror_too(tmp_path: Path) -> None:
    root = apt(tmp_path, {"sources.list.d/a.list": "deb http://vendor.example.test/repo nodistro main\n",
                          "sources.list.d/b.sources": "Types: deb\nURIs: http://trixie.example.test/debian\n"
                                                      "Suites: trixie\nComponents: main\n"})
    assert debian_mirror("bookworm", root=root, env={}) == "http://trixie.example.test/debian"


def test_the_exact_suite_wins_over_an_earlier_other_release(tmp_path: Path) -> None:
    root = apt(tmp_path, {"sources.list": "deb http://sid.example.test/debian sid main\n"
                                          "deb http://bookworm.example.test/debian bookworm main\n"})
    assert debian_mirror("bookworm", root=root, env={}) == "http://bookworm.example.test/debian"


def test_disabled_and_unusable_entries_are_skipped(tmp_path: Path) -> None:
    root = apt(tmp_path, {
        "sources.list.d/off.sources": "Types: deb\nURIs: http://off.example.test/debian\nSuites: bookworm\n"
                                      "Components: main\nEnabled: no\n",
        "sources.list.d/mirror.list": "deb mirror+file:/etc/apt/mirrors.txt bookworm main\n"
                                      "deb http://updates.example.test/debian bookworm-updates main\n"})
    with pytest.raises(SandboxError) as err:
        debian_mirror("bookworm", root=root, env={})
    assert "GRADER_DEBIAN_MIRROR" in (err.value.hint or "")


def test_the_environment_overrides_apt(tmp_path: Path) -> None:
    root = apt(tmp_path, {"sources.list.d/debian.sources": DEB822})
    assert debian_mirror("bookworm", root=root, env={"GRADER_DEBIAN_MIRROR": "http://override.example.test/d/"}) \
        == "http://override.example.test/d"


def test_no_apt_configuration_at_all_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="no Debian mirror") as err:
        debian_mirror("bookworm", root=tmp_path / "nothing", env={})
    assert "GRADER_DEBIAN_MIRROR" in (err.value.hint or "")


def test_apt_proxy_reaches_debootstrap_unless_the_environment_has_one(tmp_path: Path) -> None:
    root = apt(tmp_path, {"apt.conf.d/01proxy": 'Acquire::http::Proxy "http://proxy.example.test:3128";\n'
                                               'Acquire::https::Proxy "DIRECT";\n'})
    assert proxy_env(root, env={}) == {"http_proxy": "http://proxy.example.test:3128"}
    assert proxy_env(root, env={"HTTP_PROXY": "http://mine.example.test:8080"}) == {}
