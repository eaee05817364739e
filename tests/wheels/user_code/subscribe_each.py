"""User code run inside the fresh venv: one typed subscribe per sample endpoint.

Prints, as JSON, what each call returned, or why the endpoint is not available. The wheel
tests also type-check this file with basedpyright and mypy against the installed wheels.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import fal_typed


def flux_dev(client: fal_typed.Client) -> dict[str, object]:
    from fal_endpoints import flux_dev

    out = flux_dev.subscribe(
        prompt="a cat", num_images=2, seed=6252023, image_size="square", client=client
    )
    found = fal_typed.endpoint(flux_dev.endpoint_id)
    return {
        "output_type": type(out).__qualname__,
        "is_output": type(out) is flux_dev.Output,
        "images": [image.url for image in out.images],
        "registry": found is flux_dev.endpoint,
        "file": flux_dev.__file__,
    }


def seedream(client: fal_typed.Client) -> dict[str, object]:
    from fal_endpoints import bytedance_seedream_v5_lite_text_to_image as seedream

    out = seedream.subscribe(prompt="a red fox in the snow", client=client)
    found = fal_typed.endpoint(seedream.endpoint_id)
    return {
        "output_type": type(out).__qualname__,
        "is_output": type(out) is seedream.Output,
        "images": [image.url for image in out.images],
        "registry": found is seedream.endpoint,
        "file": seedream.__file__,
    }


def ideogram(client: fal_typed.Client) -> dict[str, object]:
    from fal_endpoints import ideogram__v4

    request = ideogram__v4.Input(prompt="a lighthouse at dusk")
    out = ideogram__v4.endpoint.subscribe(request, client=client)  # an instance: the typed form
    found = fal_typed.endpoint(ideogram__v4.endpoint_id)
    return {
        "output_type": type(out).__qualname__,
        "is_output": type(out) is ideogram__v4.Output,
        "images": [image.url for image in out.images],
        "registry": found is ideogram__v4.endpoint,
        "file": ideogram__v4.__file__,
    }


CALLS: dict[str, Callable[[fal_typed.Client], dict[str, object]]] = {
    "fal-ai/flux/dev": flux_dev,
    "fal-ai/bytedance/seedream/v5/lite/text-to-image": seedream,
    "ideogram/v4": ideogram,
}


def main() -> None:
    hosts: dict[str, str] = json.loads(sys.argv[1])
    client = fal_typed.Client(
        hosts["key"],
        queue_url=hosts["queue_url"],
        run_url=hosts["run_url"],
        rest_url=hosts["rest_url"],
        cdn_url=hosts["cdn_url"],
        realtime_url=hosts["realtime_url"],
    )
    results: dict[str, dict[str, object]] = {}
    for endpoint_id, call in CALLS.items():
        try:
            results[endpoint_id] = {"installed": True, **call(client)}
        except ImportError:
            try:
                fal_typed.endpoint(endpoint_id)
            except fal_typed.UnknownEndpointError as missing:
                results[endpoint_id] = {"installed": False, "registry_error": str(missing)}
            else:
                results[endpoint_id] = {"installed": False, "registry_error": None}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
