"""JUnit XML for CI: one testsuite per feature, one testcase per scenario."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from runner.report.model import Run, Scenario


def _testcase(feature_location: str, scenario: Scenario) -> ET.Element:
    classname = feature_location.rsplit(":", 1)[0].removesuffix(".feature").replace("/", ".")
    case = ET.Element("testcase", classname=classname, name=scenario.name, time=f"{scenario.duration:.3f}")
    if scenario.status == "skipped":
        ET.SubElement(case, "skipped", message=scenario.reason or "")
    elif scenario.status != "passed":
        kind = "failure" if scenario.status == "failed" else "error"
        element = ET.SubElement(case, kind, message=scenario.reason or "", type=scenario.status)
        element.text = scenario.error_message or scenario.reason or ""
    steps = "\n".join(f"{s.status:<9} {s.keyword} {s.name} ({s.duration:.3f}s)" for s in scenario.steps)
    ET.SubElement(case, "system-out").text = f"{scenario.location}\n{steps}\n"
    return case


def render(run: Run) -> str:
    counts = run.counts()
    root = ET.Element("testsuites", name=f"dmaas {run.run_id}", tests=str(len(run.scenarios)),
                      failures=str(counts["failed"]), errors=str(counts["error"] + counts["undefined"]),
                      skipped=str(counts["skipped"]), time=f"{run.duration:.3f}")
    for feature in run.features:
        fcounts = {k: sum(1 for s in feature.scenarios if s.status == k)
                   for k in ("failed", "error", "undefined", "skipped")}
        suite = ET.SubElement(root, "testsuite", name=feature.name, tests=str(len(feature.scenarios)),
                              failures=str(fcounts["failed"]), errors=str(fcounts["error"] + fcounts["undefined"]),
                              skipped=str(fcounts["skipped"]),
                              time=f"{sum(s.duration for s in feature.scenarios):.3f}",
                              timestamp=run.started)
        for scenario in feature.scenarios:
            suite.append(_testcase(feature.location, scenario))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
