"""`dmaas list`, `dmaas expand` and the pass-through of `dmaas monitor`."""
from __future__ import annotations

import sys
import types

from runner_paths import ROOT

from runner import cli


def test_list_shows_every_tcid_with_its_tags(capsys):
    assert cli.main(["--root", str(ROOT), "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 23
    line = next(l for l in lines if l.startswith("TCID-DIR-DMAAS-SCHD-JIVA-AWS-BUCKET "))
    assert "@schd @engine-jiva @bucket-aws" in line
    assert line.endswith("features/generated/tcid-dir-dmaas-schd-jiva-aws-bucket.feature")


def test_list_with_tags_selects_like_behave(capsys):
    assert cli.main(["--root", str(ROOT), "list", "--tags", "@schd", "--tags", "not @soak"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 8
    assert cli.main(["--root", str(ROOT), "list", "--tags", "@soak"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 7      # six SOAK apps and SOAK-MONITOR


def test_expand_on_an_up_to_date_tree_writes_nothing(project, capsys):
    assert cli.main(["--root", str(project), "expand"]) == 0
    assert capsys.readouterr().out.splitlines() == ["14 generated features (0 written, 0 removed)"]


def test_not_a_project_root_is_one_line(tmp_path, capsys):
    assert cli.main(["--root", str(tmp_path), "list"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"error: {tmp_path}: not a project root (no scenarios/ and features/ here; use --root)"]


def test_monitor_gets_its_arguments_verbatim(monkeypatch):
    seen = []
    module = types.ModuleType("runner.monitor_cli")
    module.main = lambda argv: seen.append(argv) or 3
    monkeypatch.setitem(sys.modules, "runner.monitor_cli", module)
    assert cli.main(["--root", str(ROOT), "monitor", "--team", "red", "--help"]) == 3
    assert seen == [["--team", "red", "--help"]]


def test_realstack_cluster_takes_add_or_remove_and_a_name(capsys, tmp_path, monkeypatch):
    """What a real profile's lifecycle hooks call (the real-stack tests run it on a stack)."""
    monkeypatch.setenv("DMAAS_REALSTACK_DIR", str(tmp_path / "none"))
    for rest in ([], ["add"], ["grow", "x"], ["add", "a", "b"], ["add", "a", "--kubernetes"],
                 ["add", "a", "--k8s", "1.24"], ["remove", "a", "--velero", "1.12.3"]):
        assert cli.main(["--root", str(ROOT), "realstack", "cluster", *rest]) == 2
        assert capsys.readouterr().err == "realstack: usage: dmaas realstack cluster add NAME [--kubernetes " \
                                          "VERSION] [--velero VERSION] | cluster remove NAME\n"
    assert cli.main(["--root", str(ROOT), "realstack", "cluster", "add", "x", "--kubernetes", "1.24.17"]) == 1
    assert "no real stack in" in capsys.readouterr().err
    assert cli.main(["--root", str(ROOT), "realstack", "cluster", "remove", "x"]) == 1
    assert capsys.readouterr().err == f"realstack: error: no real stack in {tmp_path / 'none'} (start one with " \
                                      "`dmaas realstack up`)\n"
