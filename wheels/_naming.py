"""Distribution names, file names and versions of the wheels this package builds.

Names. An endpoint's distribution is ``fal-endpoints-`` plus its module name with ``_`` turned
into ``-`` (``flux_dev`` -> ``fal-endpoints-flux-dev``). Installers compare names after PEP 503
normalisation, which folds every run of ``-``, ``_`` and ``.`` into one ``-``, so the ``__`` that
separates a non-``fal-ai`` owner in a module name cannot survive as ``--``: it becomes ``-x-``
instead (``bytedance__seedream_v4`` -> ``fal-endpoints-bytedance-x-seedream-v4``, distinct from
``fal-ai/bytedance/seedream/v4``'s ``fal-endpoints-bytedance-seedream-v4``). A trailing ``_``
(Python keywords) is dropped, since a name cannot end in ``-``. ``tests/wheels`` checks that the
rule is collision-free over every endpoint id fal has published.

Versions. An endpoint wheel has its own semantic version, derived from its document's git
history by :mod:`._versions` (major: a break for callers or readers; minor: additions and
changed defaults; patch: descriptions only, or a new fal-typed release). It requires
``fal-typed`` from the runtime version it was generated with up to the next breaking release
(next minor while the major version is 0, next major after that). The umbrella is versioned
``<runtime version>.post<UTC timestamp>``: the runtime release, then the newest commit time of
its endpoints' schemas, as ``YYYYMMDDHHMMSS`` (``0.1.0.post20261127084355``); both parts only
grow, so ``pip install -U fal-endpoints`` reaches the newest schemas.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

__all__ = [
    "DIST_PREFIX",
    "UMBRELLA_NAME",
    "dist_info_dir",
    "distribution_name",
    "normalize",
    "runtime_requirement",
    "umbrella_version",
    "wheel_filename",
]

DIST_PREFIX = "fal-endpoints-"
UMBRELLA_NAME = "fal-endpoints"
OWNER_SEPARATOR = "-x-"

_MODULE = re.compile(r"[a-z_][a-z0-9_]*")
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
# A release plus at most a pre-release: a ``.post`` segment is added after it, which PEP 440
# only allows when the version has no post- or dev-release of its own.
_RUNTIME_VERSION = re.compile(r"(?P<release>\d+(\.\d+)*)(?P<pre>(a|b|rc)\d+)?")
_SEPARATORS = re.compile(r"[-_.]+")


def normalize(name: str) -> str:
    """PEP 503 normalisation: the form installers compare distribution names in."""
    return _SEPARATORS.sub("-", name).lower()


def distribution_name(module: str) -> str:
    """Return the distribution name for the ``fal_endpoints`` module ``module``."""
    if not _MODULE.fullmatch(module):
        raise ValueError(f"{module!r} is not a fal_endpoints module name")
    name = DIST_PREFIX + module.replace("__", OWNER_SEPARATOR).replace("_", "-").strip("-")
    return _SEPARATORS.sub("-", name)


def _filename_part(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid distribution name")
    return normalize(name).replace("-", "_")


def wheel_filename(name: str, version: str, tag: str = "py3-none-any") -> str:
    """``<name>-<version>-<tag>.whl`` with the name escaped as the binary distribution spec says."""
    return f"{_filename_part(name)}-{version}-{tag}.whl"


def dist_info_dir(name: str, version: str) -> str:
    """The ``.dist-info`` directory name inside the wheel."""
    return f"{_filename_part(name)}-{version}.dist-info"


def _runtime_parts(runtime_version: str) -> tuple[list[int], str]:
    match = _RUNTIME_VERSION.fullmatch(runtime_version)
    if not match:
        raise ValueError(
            f"runtime version {runtime_version!r} cannot carry a schema timestamp: "
            "expected a release with at most a pre-release, like '0.1.0' or '1.2.0rc1'"
        )
    return [int(p) for p in match["release"].split(".")], match["pre"] or ""


def umbrella_version(runtime_version: str, schema_time: int) -> str:
    """``<runtime_version>.post<YYYYMMDDHHMMSS>``, ``schema_time`` being the newest commit time
    of the umbrella's schemas."""
    _runtime_parts(runtime_version)
    if schema_time < 0:
        raise ValueError(f"schema time {schema_time} is before 1970")
    stamp = datetime.fromtimestamp(schema_time, tz=timezone.utc).strftime("%Y%m%d%H%M%S")
    return f"{runtime_version}.post{stamp}"


def runtime_requirement(runtime_name: str, runtime_version: str) -> str:
    """The ``Requires-Dist`` on the runtime: this version up to the next breaking release."""
    release, _ = _runtime_parts(runtime_version)
    major = release[0]
    minor = release[1] if len(release) > 1 else 0
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    return f"{runtime_name}<{upper},>={runtime_version}"
