"""`dmaas validate` and the scenario loader: every problem is one line naming file and field."""
from __future__ import annotations

import shutil

from runner_paths import FIXTURES, ROOT

from runner import cli, scenarios
from runner.step_coverage import undefined_steps


def validate(root, capsys, *extra):
    code = cli.main(["--root", str(root), "validate", *extra])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_shipped_scenarios_are_valid():
    model, problems = scenarios.collect(ROOT)
    assert problems == []
    assert set(model.engines) == {"cstor", "jiva", "local-dev", "local-hp"}
    assert set(model.buckets) == {"minio", "aws"}


def test_malformed_yaml_is_one_line_with_line_and_column(project, capsys):
    (project / "scenarios/engines.yaml").write_text("engines:\n  cstor: {title: cStor\n  jiva: [\n")
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert len(lines) == 1
    assert lines[0].startswith("scenarios/engines.yaml:3:")
    assert "malformed YAML" in lines[0]


def test_schema_violation_names_file_and_field(project, capsys, edit_yaml):
    edit_yaml(project / "scenarios/engines.yaml", lambda d: d["engines"]["cstor"].update(backup="tape"))
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert lines == ["scenarios/engines.yaml: engines.cstor.backup: 'tape' is not one of ['snapshot', 'fs']"]


def test_missing_required_field_names_the_object(project, capsys, edit_yaml):
    edit_yaml(project / "scenarios/plans.yaml", lambda d: d["plans"]["soak-2-days"].pop("retention"))
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert lines == ["scenarios/plans.yaml: plans.soak-2-days: 'retention' is a required property"]


def test_unknown_engine_in_a_matrix(project, capsys, edit_yaml):
    edit_yaml(project / "scenarios/matrices.yaml", lambda d: d["matrices"]["schd"]["axes"]["engine"].append("zfs"))
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert lines == ["scenarios/matrices.yaml: matrices.schd.axes.engine[4]: unknown engine 'zfs' "
                     "(known: cstor, jiva, local-dev, local-hp)"]


def test_unknown_plan_and_template_in_a_matrix(project, capsys, edit_yaml):
    def change(d):
        d["matrices"]["soak"]["plan"] = "weekly"
        d["matrices"]["soak"]["template"] = "nope.feature.j2"
    edit_yaml(project / "scenarios/matrices.yaml", change)
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert "scenarios/matrices.yaml: matrices.soak.plan: unknown plan 'weekly' (known: hourly-3-days, hourly-short, soak-short, soak-2-days)" in lines
    assert "scenarios/matrices.yaml: matrices.soak.template: no such template features/templates/nope.feature.j2" in lines


def test_a_short_forms_own_engine_must_exist_and_have_a_short_form(project, capsys, edit_yaml):
    def change(d):
        d["matrices"]["soak"]["short_fixed"] = {"engine": "zfs"}
        d["matrices"]["schd"]["short_fixed"] = {"engine": "jiva"}
        del d["matrices"]["schd"]["short_plan"]
    edit_yaml(project / "scenarios/matrices.yaml", change)
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert lines == ["scenarios/matrices.yaml: matrices.schd.short_fixed: there is no short form (no short_plan)",
                     "scenarios/matrices.yaml: matrices.soak.short_fixed.engine: unknown engine 'zfs' "
                     "(known: cstor, jiva, local-dev, local-hp)"]


def test_stale_generated_feature_is_reported(project, capsys):
    (project / "features/generated/tcid-dir-dmaas-schd-jiva-aws-bucket.feature").write_text("# hand edit\n")
    (project / "features/generated/tcid-dir-dmaas-old.feature").write_text("# left over\n")
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert lines == [
        "features/generated/tcid-dir-dmaas-schd-jiva-aws-bucket.feature: out of date with scenarios/ (matrix schd); "
        "run `dmaas expand`",
        "features/generated/tcid-dir-dmaas-old.feature: produced by no matrix; run `dmaas expand`",
    ]


def test_run_with_bad_input_exits_2_with_one_line(project, capsys, edit_yaml):
    edit_yaml(project / "scenarios/matrices.yaml", lambda d: d["matrices"]["schd"]["axes"]["bucket"].append("gcs"))
    code = cli.main(["--root", str(project), "run"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.splitlines() == ["error: scenarios/matrices.yaml: matrices.schd.axes.bucket[2]: unknown bucket 'gcs' "
                                "(known: minio, aws)"]


def test_unknown_target_lists_the_known_ones(project, capsys):
    code = cli.main(["--root", str(project), "run", "--target", "staging"])
    _, err = capsys.readouterr()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "unknown target 'staging' (known: example-real, lab" in err
    assert "Traceback" not in err


def test_undefined_step_is_reported_with_file_and_line():
    assert undefined_steps(FIXTURES / "mini") == [
        "features/schd_local.feature:7: undefined step: When the backups are discovered by a step nobody wrote"]


def test_validate_names_an_undefined_step_in_the_project(project, capsys):
    feature = project / "features/mysql.feature"
    lines = feature.read_text().splitlines()
    lines.insert(6, "    And the moon is made of green cheese")
    feature.write_text("\n".join(lines) + "\n")
    code, out, _ = validate(project, capsys)
    assert code == 1
    assert "features/mysql.feature:7: undefined step: And the moon is made of green cheese" in out


def test_unloadable_steps_are_one_line(tmp_path):
    mini = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", mini)
    (mini / "features/steps/broken.py").write_text("import no_such_module_anywhere\n")
    problems = undefined_steps(mini)
    assert len(problems) == 1
    assert problems[0].startswith("steps/: cannot load the features and step definitions:")
    assert "no_such_module_anywhere" in problems[0]


def test_unknown_bucket_in_plan_locations(project, capsys, edit_yaml):
    edit_yaml(project / "scenarios/plans.yaml", lambda d: d["plans"]["hourly-3-days"].update(locations=["aws", "gcs"]))
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert lines == ["scenarios/plans.yaml: plans.hourly-3-days.locations[1]: unknown bucket 'gcs' (known: minio, aws)"]


def test_a_step_on_an_engine_engines_yaml_lacks(project, capsys):
    feature = project / "features/mysql.feature"
    feature.write_text(feature.read_text().replace('on "local-hp" volumes', 'on "zfs" volumes', 1))
    code, out, _ = validate(project, capsys)
    assert code == 1
    assert out == ["features/mysql.feature:9: unknown engine 'zfs' "
                        "(scenarios/engines.yaml has: cstor, jiva, local-dev, local-hp)"]


def test_a_snapshot_engine_needs_csi_volumes_and_a_driver_of_its_own(project, capsys, edit_yaml):
    engines = project / "scenarios/engines.yaml"
    shipped = engines.read_text()
    edit_yaml(engines, lambda data: data["engines"]["cstor"].update(volume="hostpath"))
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert lines == ["scenarios/engines.yaml: engines.cstor.volume: 'hostpath': backup: snapshot needs volume: csi "
                     "(the OpenEBS plugin takes volumes by their CSI driver)"]
    engines.write_text(shipped)
    edit_yaml(engines, lambda data: data["engines"]["jiva"].update(provisioner="cstor.csi.openebs.io"))
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert lines == ["scenarios/engines.yaml: engines.cstor.backup: snapshot, but engine 'jiva' with the same "
                     "provisioner cstor.csi.openebs.io says fs (snapshots are taken by CSI driver)"]


def test_engines_a_target_profile_names_must_exist(project, capsys):
    (project / "scenarios/targets/odd.yaml").write_text(
        "kind: lab\nlab: {clusters: [], engines: [cstor, zfs]}\nunsupported_engines: {jvia: no Jiva here}\n")
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert lines == [
        "scenarios/targets/odd.yaml: unsupported_engines.jvia: unknown engine 'jvia' "
        "(known: cstor, jiva, local-dev, local-hp)",
        "scenarios/targets/odd.yaml: lab.engines[1]: unknown engine 'zfs' (known: cstor, jiva, local-dev, local-hp)"]


def test_validate_target_names_engines_the_target_cannot_serve(project, capsys):
    (project / "scenarios/targets/cstoronly.yaml").write_text("kind: lab\nlab: {clusters: [], engines: [cstor]}\n")
    code, lines, _ = validate(project, capsys, "--no-steps", "--target", "cstoronly", "--tags", "@mysql")
    assert code == 1
    assert lines == ["scenarios/targets/cstoronly.yaml: lab.engines: the selected scenarios use engine(s) local-hp, "
                     "which this lab does not serve (it serves: cstor; leave engines out to serve every engine "
                     "of scenarios/engines.yaml)"]
    code, lines, _ = validate(project, capsys, "--no-steps", "--target", "realstack", "--tags",
                              "@TCID-DIR-DMAAS-SCHD-CSTOR-AWS-BUCKET or @mysql")
    assert code == 1
    assert lines == ["scenarios/targets/realstack.yaml: unsupported_engines.cstor: the selected scenarios use engine "
                     "cstor, which this target cannot serve (OpenEBS cStor backs up through its own pools and Velero "
                     "plugin (snapshots), which this machine cannot run); `dmaas run` skips them"]
    code, lines, _ = validate(project, capsys, "--no-steps", "--target", "realstack", "--tags", "@mysql")
    assert code == 0, lines


def test_a_bad_target_profile_is_one_line_from_the_one_profile_loader(project, capsys):
    (project / "scenarios/targets/staging.yaml").write_text(
        "kind: real\nclusters: {a: {context: x}}\nbuckets: {aws: {endpoint: 'https://s3', bucket: bkt, "
        "access_key_env: 'AKIA/leaked+key', secret_key_env: S}}\n")
    code, lines, _ = validate(project, capsys, "--no-steps")
    assert code == 1
    assert lines == ["scenarios/targets/staging.yaml: buckets.aws.access_key_env: must match ^[A-Za-z_][A-Za-z0-9_]*$"]
    try:
        scenarios.load_target_profile(project, "staging")
    except scenarios.UserError as error:
        assert error.message == lines[0]
    else:
        raise AssertionError("the profile loader accepted a bad profile")
    code = cli.main(["--root", str(project), "run", "--target", "staging"])
    assert capsys.readouterr().err.splitlines() == [f"error: {lines[0]}"] and code == 2
