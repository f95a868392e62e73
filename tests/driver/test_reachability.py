"""A target that stops answering mid-run fails the step with one line
naming the endpoint and what went wrong, not the client library's text."""
import types

import boto3
import pytest
from botocore.config import Config
from kubernetes import client

from runner.driver.reachability import TargetUnreachable, unreachable

DEAD = "127.0.0.1:9"      # the discard port: nothing listens there


def _s3_error():
    s3 = boto3.client("s3", endpoint_url=f"http://{DEAD}", region_name="us-east-1", aws_access_key_id="a",
                      aws_secret_access_key="b", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(Exception) as caught:
        s3.list_buckets()
    return caught.value


def _kubernetes_error():
    configuration = client.Configuration()
    configuration.host, configuration.retries, configuration.verify_ssl = f"https://{DEAD}", 0, False
    with pytest.raises(Exception) as caught:
        client.VersionApi(client.ApiClient(configuration)).get_code()
    return caught.value


def test_connection_failures_of_both_clients_are_one_line_with_the_endpoint():
    assert unreachable(_s3_error()) == f"http://{DEAD}/: connection refused"
    assert unreachable(_kubernetes_error()) == f"https://{DEAD}: connection refused"
    assert unreachable(ValueError("not a connection problem")) is None


def test_a_step_whose_target_stopped_answering_fails_in_one_line(steplib):
    error = _kubernetes_error()

    def step(context):
        raise error
    context = types.SimpleNamespace(driver=types.SimpleNamespace(target=types.SimpleNamespace(name="prod")))
    with pytest.raises(TargetUnreachable) as caught:
        steplib.skip_unsupported(step)(context)
    assert str(caught.value) == f"target 'prod' stopped answering: https://{DEAD}: connection refused"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_other_step_errors_pass_through_unchanged(steplib):

    def step(context):
        raise AssertionError("expected 5 backups, found 4")
    with pytest.raises(AssertionError, match="^expected 5 backups, found 4$"):
        steplib.skip_unsupported(step)(types.SimpleNamespace())
