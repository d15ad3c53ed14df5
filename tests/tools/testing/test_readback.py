"""read_back: files written in the sandbox's /tmp come back intact through execute."""

import hashlib

import pytest

from sandboxes.settings import SandboxSettings
from tests.tools.conftest import SHOP
from tools.testing.readback import read_back

pytestmark = pytest.mark.docker


def test_large_text_file_comes_back_exactly(docker_box):
    docker_box.execute("seq 1 150000 > /tmp/big.txt")
    expected = "".join(f"{i}\n" for i in range(1, 150001)).encode()
    assert read_back(docker_box, "/tmp/big.txt") == expected


def test_random_bytes_across_chunks(docker_box):
    docker_box.execute("head -c 100000 /dev/urandom > /tmp/r; sha256sum /tmp/r > /tmp/r.sum")
    digest = docker_box.execute("cut -d' ' -f1 /tmp/r.sum").output.strip()
    assert hashlib.sha256(read_back(docker_box, "/tmp/r")).hexdigest() == digest


def test_missing_file_is_none(docker_box):
    assert read_back(docker_box, "/tmp/nope.xml") is None


def test_file_is_removed_after_reading(docker_box):
    docker_box.execute("echo hi > /tmp/once")
    read_back(docker_box, "/tmp/once")
    assert docker_box.execute("ls /tmp/once /tmp/once.b64").exit_code != 0


def test_works_under_a_tiny_output_cap(make_box):
    box = make_box(SHOP, "docker", settings=SandboxSettings(output_cap_bytes=1000))
    box.execute("head -c 20000 /dev/urandom > /tmp/small-cap")
    digest = box.execute("sha256sum /tmp/small-cap").output.split()[0]
    assert hashlib.sha256(read_back(box, "/tmp/small-cap")).hexdigest() == digest
