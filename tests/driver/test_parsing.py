"""The words the features use, parsed the way the steps see them."""
import parse
import pytest


@pytest.mark.parametrize("text, seconds", [
    ("80 hours", 80 * 3600), ("3 days", 3 * 86400), ("1h", 3600), ("72h", 72 * 3600), ("168h", 168 * 3600),
    ("15 minutes", 900), ("an hour", 3600), ("2 hours", 7200), ("1 day", 86400), ("30s", 30),
])
def test_durations(steplib, text, seconds):
    assert steplib.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["hours", "3 fortnights", "h1", "-2 hours", ""])
def test_bad_durations_say_what_they_got(steplib, text):
    with pytest.raises(ValueError, match="not a duration"):
        steplib.parse_duration(text)


@pytest.mark.parametrize("text, size", [("64 KiB", 65536), ("2 MiB", 2 * 2**20), ("512 MiB", 512 * 2**20),
                                        ("8 MiB", 8 * 2**20), ("1 GB", 10**9), ("10B", 10)])
def test_sizes(steplib, text, size):
    assert steplib.parse_size(text) == size


@pytest.mark.parametrize("text, names", [
    ('"a"', ["a"]), ('"a" and "b"', ["a", "b"]), ('"a", "b" and "c"', ["a", "b", "c"]),
    ('"restricted", "baseline" and "privileged"', ["restricted", "baseline", "privileged"]),
])
def test_quoted_lists(steplib, text, names):
    assert steplib.parse_names(text) == names


def test_table_lists(steplib):
    assert steplib.parse_list("billing, hr") == ["billing", "hr"]
    assert steplib.parse_list("ingresses.networking.k8s.io") == ["ingresses.networking.k8s.io"]
    assert steplib.parse_list("") == []


def types(steplib):
    return {"Names": steplib.parse_names, "Name": steplib.parse_name, "Duration": steplib.parse_duration,
            "Size": steplib.parse_size, "Which": steplib.parse_which}


def test_step_patterns_bind_whole_phrases(steplib):
    pattern = parse.compile('the "{profile:Name}" bucket is a backup location on clusters {clusters:Names}',
                            extra_types=types(steplib))
    found = pattern.parse('the "minio" bucket is a backup location on clusters "lob-a" and "lob-b"')
    assert found["profile"] == "minio" and found["clusters"] == ["lob-a", "lob-b"]
    assert pattern.parse('the "minio" bucket is a backup location on cluster "lob-a"') is None


def test_a_quoted_field_never_swallows_the_rest_of_a_step(steplib):
    generic = parse.compile('the {which:Which} backup of plan "{plan:Name}" is restored on cluster "{cluster:Name}"',
                            extra_types=types(steplib))
    assert generic.parse('the latest backup of plan "p" in location "aws" is restored on cluster "dr"') is None
    found = generic.parse('the latest-but-one day\'s backup of plan "p" is restored on cluster "dr"')
    assert found["which"] == "latest-but-one day's"


def test_time_steps(steplib):
    plain = parse.compile("{duration:Duration} pass", extra_types=types(steplib))
    writing = parse.compile("{duration:Duration} pass while the applications write data every {interval:Duration}",
                            extra_types=types(steplib))
    assert plain.parse("2 hours pass")["duration"] == 7200
    assert plain.parse("3 hours pass while the applications write data every hour") is None
    found = writing.parse("48 hours pass while the applications write data every 15 minutes")
    assert (found["duration"], found["interval"]) == (48 * 3600, 900)


@pytest.mark.parametrize("before", [b"", b"x", b"xy", b"xyz"])
def test_base64_of_a_secret_is_found_at_any_alignment(steplib, before):
    import base64
    blob = base64.b64encode(before + b"dmaas-secret-0123456789abcdef" + b"after")
    assert any(f in blob for f in steplib.encodings("dmaas-secret-0123456789abcdef") if f != b"dmaas-secret-0123456789abcdef")
    assert not any(f in base64.b64encode(before + b"dmaas-secret-0123456789abcdeX")
                   for f in steplib.encodings("dmaas-secret-0123456789abcdef"))


def test_secret_encodings_cover_plain_base64_and_gzip(steplib):
    import base64
    import gzip
    value = "dmaas-secret-0123456789abcdef"
    forms = steplib.encodings(value)
    assert value.encode() in forms
    assert any(f in base64.b64encode(value.encode()) for f in forms - {value.encode()})
    blob = gzip.compress(b"prefix " + base64.b64encode(value.encode()) + b" suffix")
    assert any(f in form for form in steplib.readable_forms(blob) for f in forms)
    assert not any(f in form for form in steplib.readable_forms(gzip.compress(b"nothing here")) for f in forms)
