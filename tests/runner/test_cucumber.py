"""cucumber.json is what Cucumber's own tools read: cucumber-junit-convert
turns it into the same pass/fail/skip verdicts as our junit.xml, and
cucumber-html-reporter renders it (both from npm, installed by
scripts/setup.sh), secrets redacted, durations in nanoseconds."""
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from runner import cli
from test_cli_run import small_project  # noqa: F401 -- the probe project fixture

NODE_MODULES = Path(os.environ.get("DMAAS_CACHE") or Path.home() / ".cache/dmaas") / "npm/node_modules"
CONVERT = """
const [input, junit, html] = process.argv.slice(1);   // node -e: no script path in argv
require('cucumber-junit-convert').convert({inputJsonFile: input, outputXmlFile: junit});
require('cucumber-html-reporter').generate({theme: 'bootstrap', jsonFile: input, output: html,
  reportSuiteAsScenarios: true, launchReport: false, name: 'dmaas'});
"""


@pytest.fixture
def tools():
    if not all((NODE_MODULES / name).is_dir() for name in ("cucumber-junit-convert", "cucumber-html-reporter")) \
            or not shutil.which("node"):
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Cucumber tools are missing from {NODE_MODULES}: scripts/setup.sh installs them")
        pytest.skip(f"the Cucumber tools are not installed in {NODE_MODULES} (scripts/setup.sh installs them)")
    return NODE_MODULES


def test_cucumber_tools_read_what_the_run_wrote(tools, small_project, tmp_path):
    root = small_project
    assert cli.main(["--root", str(root), "run", "--report-dir", str(root / "reports"), "--target",
                     "example-real", "--tags", "@mysql or @cortex or @psp"]) == 1
    (run_dir,) = list((root / "reports").iterdir())
    text = (run_dir / "cucumber.json").read_text()
    assert "hunter2" not in text
    features = json.loads(text)
    assert sorted(f["uri"] for f in features) == ["features/cortex.feature", "features/mysql.feature",
                                                   "features/psp.feature"]
    steps = [s for f in features for e in f["elements"] for s in e["steps"]]
    assert all(isinstance(s["result"]["duration"], int) and s["line"] > 1 and s["match"]["location"]
               for s in steps)

    junit, html = tmp_path / "converted.xml", tmp_path / "cucumber.html"
    done = subprocess.run(["node", "-e", CONVERT, str(run_dir / "cucumber.json"), str(junit), str(html)],
                          env=dict(os.environ, NODE_PATH=str(tools)), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    verdicts = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = {child.tag for child in case} & {"failure", "skipped"}
        verdicts[case.get("name").split(" ", 1)[0]] = kinds.pop() if kinds else "passed"
    ours = {}
    for case in ET.parse(run_dir / "junit.xml").getroot().iter("testcase"):
        kinds = {child.tag for child in case} & {"failure", "error", "skipped"}
        ours[case.get("name").split(" ", 1)[0]] = "failure" if kinds & {"failure", "error"} else \
            ("skipped" if kinds else "passed")
    assert verdicts == ours == {"TCID-DIR-DMAAS-MYSQL": "passed", "TCID-DIR-DMAAS-CORTEX": "failure",
                                "TCID-DIR-DMAAS-PSP": "skipped"}
    failure = next(c for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None)
    assert "no backup (password=" in failure.find("failure").get("message") + (failure.find("failure").text or "")
    page = html.read_text()
    assert all(tcid in page for tcid in ours) and "hunter2" not in page
