"""JUnit XML for CI: one testsuite per feature (one per TCID), one testcase
per scenario. JUnit knows one kind of skip: a scenario not for this target
(a form of the story for another target) is a skipped testcase too, and each
testsuite's properties say how many of its skips were such, and the TCID's
verdict (runner.report.model.tcid_verdict), which JUnit has no place for
otherwise. In a merged run of several targets a testcase's name ends with
its target in brackets."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from runner.report.model import NOT_FOR_TARGET, Run, Scenario, tcid_verdict

SKIPS = ("skipped", NOT_FOR_TARGET)


def _testcase(feature_location: str, scenario: Scenario, name: str) -> ET.Element:
    classname = feature_location.rsplit(":", 1)[0].removesuffix(".feature").replace("/", ".")
    case = ET.Element("testcase", classname=classname, name=name, time=f"{scenario.duration:.3f}")
    if scenario.status in SKIPS:
        ET.SubElement(case, "skipped", message=scenario.reason or "")
    elif scenario.status != "passed":
        kind = "failure" if scenario.status == "failed" else "error"
        element = ET.SubElement(case, kind, message=scenario.reason or "", type=scenario.status)
        element.text = scenario.error_message or scenario.reason or ""
    steps = "\n".join(f"{s.status:<9} {s.keyword} {s.name} ({s.duration:.3f}s)" for s in scenario.steps)
    ET.SubElement(case, "system-out").text = f"{scenario.location}\n{steps}\n"
    return case


def _counts(scenarios: list[Scenario]) -> dict[str, str]:
    def n(*statuses):
        return str(sum(1 for s in scenarios if s.status in statuses))
    return {"tests": str(len(scenarios)), "failures": n("failed"), "errors": n("error", "undefined"),
            "skipped": n(*SKIPS)}


def render(run: Run) -> str:
    several = len(run.targets) > 1
    root = ET.Element("testsuites", name=f"dmaas {run.run_id}", **_counts(run.scenarios), time=f"{run.duration:.3f}")
    for feature in run.features:
        suite = ET.SubElement(root, "testsuite", name=feature.name, **_counts(feature.scenarios),
                              time=f"{sum(s.duration for s in feature.scenarios):.3f}", timestamp=run.started)
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="dmaas.verdict", value=tcid_verdict(feature.scenarios).status)
        ET.SubElement(properties, "property", name="dmaas.not_for_target",
                      value=str(sum(1 for s in feature.scenarios if s.status == NOT_FOR_TARGET)))
        for scenario in feature.scenarios:
            suite.append(_testcase(feature.location, scenario,
                                   f"{scenario.name} [{scenario.target}]" if several else scenario.name))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
