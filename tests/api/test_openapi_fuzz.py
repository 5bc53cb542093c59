"""Schemathesis against the OpenAPI document of a real server: no input gives a 5xx.

Every operation of ``/openapi.json`` gets generated requests, valid ones (positive) and ones
that break the schema (negative), with an admin token; then again without credentials, where
every ``/api`` route must answer 401. The server runs as a process on SQLite, with a few alarms
raised first so that the routes on an alarm find one to work on. Hypothesis is derandomized:
the same cases run on every machine, and a failure reproduces.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from support.panel import sia_frame
from support.server import ServerProcess, run_server

pytestmark = pytest.mark.slow

AUTHENTICATED_EXAMPLES = 25
ANONYMOUS_EXAMPLES = 10

Operation = APIOperation[Any, Any, Any, Any]
FuzzCase = Case[Operation]


def _fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with run_server(tmp_path_factory.mktemp("fuzz") / "var") as running:
        with running.client() as client:
            assert client.post("/api/accounts", json={"account": "1234"}).status_code == 201
        with socket.create_connection(("127.0.0.1", running.dc09_port), timeout=10) as panel:
            for seq in range(1, 4):
                panel.sendall(sia_frame("1234", seq, data=f"#1234|Nri{seq}/BA0{seq}"))
                assert b"ACK" in panel.recv(1024)
        yield running


def _operations(server: ServerProcess) -> list[Operation]:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    operations: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert len(operations) >= 20, [op.label for op in operations]
    return operations


def _strategy(
    operation: Operation, modes: tuple[GenerationMode, ...]
) -> st.SearchStrategy[FuzzCase]:
    return st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in modes))


def _fuzz(
    operation: Operation,
    strategy: st.SearchStrategy[FuzzCase],
    max_examples: int,
    check: Callable[[FuzzCase], None],
) -> str | None:
    """Run the cases of one operation; return the first failure, described, or None."""

    @_fuzz_settings(max_examples)
    @given(case=strategy)
    def run(case: FuzzCase) -> None:
        check(case)

    try:
        run()
    except AssertionError as err:
        return f"{operation.label}: {err}"
    return None


def test_no_generated_request_gets_a_server_error(server: ServerProcess) -> None:
    headers = {"Authorization": f"Bearer {server.token}"}

    def check(case: FuzzCase) -> None:
        response = case.call(headers=headers, timeout=10)
        assert response.status_code < 500, (
            f"{response.status_code} for {case.as_curl_command()}: {response.text[:300]}"
        )
        case.validate_response(response, checks=[not_a_server_error], headers=headers)

    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    failures = [
        failure
        for operation in _operations(server)
        if (failure := _fuzz(operation, _strategy(operation, modes), AUTHENTICATED_EXAMPLES, check))
    ]
    assert not failures, "\n".join(failures)
    assert "Traceback" not in server.log()


def test_without_credentials_every_api_route_is_401(server: ServerProcess) -> None:
    def check(case: FuzzCase) -> None:
        response = case.call(timeout=10)
        assert response.status_code < 500, f"{response.status_code} for {case.as_curl_command()}"
        # Signing in is public by design; it answers 401, 422 or 429, never a 5xx.
        if case.operation.path.startswith("/api/") and case.operation.path != "/api/login":
            assert response.status_code == 401, (
                f"{response.status_code} for {case.as_curl_command()}: {response.text[:300]}"
            )
            assert response.json()["error"] == "unauthorized"

    failures = [
        failure
        for operation in _operations(server)
        if (
            failure := _fuzz(
                operation,
                _strategy(operation, (GenerationMode.POSITIVE,)),
                ANONYMOUS_EXAMPLES,
                check,
            )
        )
    ]
    assert not failures, "\n".join(failures)
