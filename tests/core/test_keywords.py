"""keyword_call: a declared signature in, a call of the endpoint out (what generated modules use)."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Mapping
from typing import Any

import pytest

from fal_typed import Endpoint, InputModel, InputValidationError, OutputModel
from fal_typed.keywords import NOT_GIVEN, keyword_call


class Probe(InputModel):
    prompt: str
    steps: int = 4


class ProbeOutput(OutputModel):
    echo: str


class Recorder(Endpoint[Probe, ProbeOutput]):
    """An endpoint whose calls record what they were given instead of reaching fal."""

    calls: list[tuple[str, dict[str, Any], dict[str, Any]]]

    def run(self, arguments: Any, **options: Any) -> ProbeOutput:  # type: ignore[override]
        self.calls.append(("run", dict(arguments), options))
        return ProbeOutput(echo=arguments["prompt"])

    async def run_async(self, arguments: Any, **options: Any) -> ProbeOutput:  # type: ignore[override]
        self.calls.append(("run_async", dict(arguments), options))
        return ProbeOutput(echo=arguments["prompt"])


def recorder() -> Recorder:
    endpoint = Recorder("fal-ai/probe", Probe, ProbeOutput)
    endpoint.calls = []
    return endpoint


# The generated modules pass ``endpoint.run``; here ``Endpoint.run`` bound to the recorder, so
# the options are read off the real call's signature while the recorder's ``run`` is called.


def test_keywords_split_into_fields_options_and_extra_body_and_only_given_ones_are_sent() -> None:
    endpoint = recorder()

    @keyword_call(Endpoint.run.__get__(endpoint))
    def run(
        *,
        prompt: str,
        steps: int = 4,
        extra_body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ProbeOutput:
        """Run the probe."""
        raise NotImplementedError

    assert run(prompt="a cat", timeout=2.0, extra_body={"new": 1}).echo == "a cat"
    assert endpoint.calls == [("run", {"prompt": "a cat", "new": 1}, {"timeout": 2.0})]
    run(prompt="a dog", steps=NOT_GIVEN)  # an explicit NOT_GIVEN is left out too
    assert endpoint.calls[-1] == ("run", {"prompt": "a dog"}, {})
    # What help() and editors show is the declared signature and docstring.
    assert list(inspect.signature(run).parameters) == ["prompt", "steps", "extra_body", "timeout"]
    assert run.__doc__ == "Run the probe." and run.__name__ == "run"


def test_bad_input_is_rejected_by_field_before_the_call_and_an_instance_is_taken() -> None:
    endpoint = recorder()

    @keyword_call(Endpoint.run.__get__(endpoint))
    def run(*, prompt: str, steps: int = 4, timeout: float | None = None) -> ProbeOutput:
        raise NotImplementedError

    with pytest.raises(InputValidationError) as caught:
        run(steps="many", stepz=1)  # type: ignore[arg-type, call-arg]
    assert caught.value.fields == ["prompt", "steps", "stepz"]
    assert endpoint.calls == []
    run(Probe(prompt="an owl"), timeout=1.0)  # type: ignore[call-arg]
    assert endpoint.calls == [("run", {"prompt": "an owl"}, {"timeout": 1.0})]
    with pytest.raises(TypeError):
        run(Probe(prompt="a"), Probe(prompt="b"))  # type: ignore[call-arg]


def test_a_coroutine_function_stays_one_and_patching_the_endpoint_reaches_it() -> None:
    endpoint = recorder()

    @keyword_call(Endpoint.run_async.__get__(endpoint))
    async def run_async(*, prompt: str, timeout: float | None = None) -> ProbeOutput:
        raise NotImplementedError

    assert inspect.iscoroutinefunction(run_async)
    assert asyncio.run(run_async(prompt="a cat")).echo == "a cat"

    async def patched(arguments: Any, **options: Any) -> ProbeOutput:
        return ProbeOutput(echo="patched")

    endpoint.run_async = patched  # type: ignore[method-assign]
    assert asyncio.run(run_async(prompt="a cat")).echo == "patched"


def test_a_method_sends_through_the_named_method_of_its_connection() -> None:
    class Connection:
        def __init__(self) -> None:
            self.endpoint = recorder()
            self.sent: list[dict[str, Any]] = []

        def send_arguments(self, arguments: Mapping[str, Any]) -> None:
            self.sent.append(dict(arguments))

        @keyword_call("send_arguments")
        def send(self, *, prompt: str, extra_body: Mapping[str, Any] | None = None) -> None:
            raise NotImplementedError

    connection = Connection()
    connection.send(prompt="a cat", extra_body={"strength": 1})
    assert connection.sent == [{"prompt": "a cat", "strength": 1}]


def test_anything_but_an_endpoint_call_or_a_method_name_is_refused() -> None:
    with pytest.raises(TypeError, match="Endpoint's bound call"):
        keyword_call(print)


def test_options_are_read_through_a_wrapping_decorator() -> None:
    """A subclass may wrap a call (logging, tracing) with ``functools.wraps``: its options are
    still options, not input fields."""

    def traced(call: Any) -> Any:
        @functools.wraps(call)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return call(*args, **kwargs)

        return wrapper

    endpoint = recorder()

    @keyword_call(traced(Endpoint[Probe, ProbeOutput].run).__get__(endpoint))
    def run(*, prompt: str, timeout: float | None = None) -> ProbeOutput:
        raise NotImplementedError

    assert run(prompt="a cat", timeout=2.0).echo == "a cat"
    assert endpoint.calls == [("run", {"prompt": "a cat"}, {"timeout": 2.0})]
