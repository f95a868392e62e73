"""A component that fails to build or start: one line naming it and its log,
a non-zero exit, nothing half-started left."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_failed_build_names_the_component_and_its_log(tmp_path):
    # an empty module cache with the proxy switched off: etcd, the first component, cannot build
    env = dict(os.environ, DMAAS_CACHE=str(tmp_path / "cache"), GOMODCACHE=str(tmp_path / "mod"),
               GOCACHE=str(tmp_path / "gocache"), GOPROXY="off")
    result = subprocess.run(["bash", str(ROOT / "realstack" / "build.sh"), "etcd"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("realstack: building etcd failed; see ") and last.endswith("/logs/etcd.log")
    assert Path(last.rsplit(" ", 1)[1]).read_text().strip()


def test_an_unknown_component_is_refused():
    result = subprocess.run(["bash", str(ROOT / "realstack" / "build.sh"), "kubectl-plugin"], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "unknown component 'kubectl-plugin'" in result.stderr


def test_a_component_that_dies_at_start_is_named_and_nothing_stays(realstack_built, tmp_path, monkeypatch):
    from runner.realstack import build, stack
    fake = tmp_path / "bin"
    fake.mkdir()
    for binary in realstack_built.iterdir():
        (fake / binary.name).symlink_to(binary)
    (fake / "kube-apiserver").unlink()
    (fake / "kube-apiserver").write_text("#!/bin/sh\necho 'E1202 cannot start: port stolen' >&2\nexit 3\n")
    (fake / "kube-apiserver").chmod(0o755)
    monkeypatch.setattr(build, "bin_dir", lambda root: fake)
    handle = stack.Stack(ROOT, tmp_path / "state")
    with pytest.raises(stack.StackError) as error:
        handle.up(["solo"])
    message = str(error.value)
    assert message.startswith("kube-apiserver of cluster solo exited with status 3")
    assert "port stolen" in message and "kube-apiserver.log" in message and "\n" not in message
    assert not (tmp_path / "state").exists()
    assert not any(stack.alive(p) for p in handle.processes)


def test_status_and_down_without_a_stack_say_so(tmp_path, monkeypatch, capsys):
    from runner import cli
    monkeypatch.setenv("DMAAS_REALSTACK_DIR", str(tmp_path / "none"))
    assert cli.main(["--root", str(ROOT), "realstack", "status"]) == 1
    assert f"no real stack in {tmp_path / 'none'}" in capsys.readouterr().err
    assert cli.main(["--root", str(ROOT), "realstack", "down"]) == 1
    assert f"no real stack in {tmp_path / 'none'}" in capsys.readouterr().err
