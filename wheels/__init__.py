"""Build installable wheels: the ``fal-typed`` runtime, one per endpoint, and an umbrella.

``python -m wheels`` (or ``make wheels``) writes them to ``dist/wheels``. Users of one or two
models install only those (``pip install fal-endpoints-flux-dev``); each endpoint wheel holds one
member of the ``fal_endpoints`` namespace package, typed per PEP 561, and depends on a compatible
runtime. Names follow :mod:`wheels._naming`, endpoint versions :mod:`wheels._versions` (a
semantic version per endpoint from its schema's git history); every archive is reproducible.
"""

from ._build import (
    BuildReport,
    BuiltWheel,
    Layout,
    WheelBuildError,
    build_endpoint_wheel,
    build_runtime_wheel,
    build_umbrella_wheel,
    build_wheels,
)
from ._naming import (
    distribution_name,
    normalize,
    runtime_requirement,
    umbrella_version,
    wheel_filename,
)
from ._project import RuntimeProject, load_runtime_project
from ._revisions import UncommittedSchemaError, schema_times
from ._sources import EndpointSource, load_endpoint, schema_path_for
from ._versions import EndpointHistory, Release, bump_version, endpoint_histories

__all__ = [
    "BuildReport",
    "BuiltWheel",
    "EndpointHistory",
    "EndpointSource",
    "Layout",
    "Release",
    "RuntimeProject",
    "UncommittedSchemaError",
    "WheelBuildError",
    "build_endpoint_wheel",
    "build_runtime_wheel",
    "build_umbrella_wheel",
    "build_wheels",
    "bump_version",
    "distribution_name",
    "endpoint_histories",
    "load_endpoint",
    "load_runtime_project",
    "normalize",
    "runtime_requirement",
    "schema_path_for",
    "schema_times",
    "umbrella_version",
    "wheel_filename",
]
