"""Tests: the Bedrock fake's routes are botocore's own operations (the service model JSON in the
pinned botocore), so the real client's requests are what it serves."""

from __future__ import annotations

import re

import botocore.session

from tests.fakes.bedrock_server import Route

OPERATIONS = {
    Route.CREATE_JOB: ("bedrock", "CreateModelCustomizationJob"),
    Route.LIST_JOBS: ("bedrock", "ListModelCustomizationJobs"),
    Route.GET_JOB: ("bedrock", "GetModelCustomizationJob"),
    Route.STOP_JOB: ("bedrock", "StopModelCustomizationJob"),
    Route.LIST_TAGS: ("bedrock", "ListTagsForResource"),
    Route.LIST_MODELS: ("bedrock", "ListFoundationModels"),
    Route.GET_CUSTOM_MODEL: ("bedrock", "GetCustomModel"),
    Route.LIST_DEPLOYMENTS: ("bedrock", "ListCustomModelDeployments"),
    Route.LIST_THROUGHPUTS: ("bedrock", "ListProvisionedModelThroughputs"),
    Route.CONVERSE: ("bedrock-runtime", "Converse"),
    Route.STS: ("sts", "GetCallerIdentity"),
}


def _shape(uri: str) -> str:
    """A request URI with its labels unnamed: /a/{jobIdentifier}/stop -> /a/{}/stop."""
    return re.sub(r"\{[^}]+\}", "{}", uri.split("?", 1)[0])


def test_every_route_of_the_fake_is_the_service_models_operation() -> None:
    session = botocore.session.get_session()
    routes = {v for k, v in vars(Route).items() if k.isupper() and v != Route.ANY}

    assert routes == set(OPERATIONS)
    for route, (service, operation) in OPERATIONS.items():
        http = session.get_service_model(service).operation_model(operation).http
        method, path = route.split(" ", 1)
        assert method == http["method"], route
        assert _shape(path) == _shape(http["requestUri"]), route
