"""Versions of the platform and of the libraries that compute its numbers.

The platform's version is the installed distribution's (``pyproject.toml`` →
``importlib.metadata``), read once here; nothing repeats it. The libraries are those
whose arithmetic or serialisation decides a report's bytes, so a manifest that lists
them says what a byte-identical recomputation needs.
"""

from __future__ import annotations

import platform
from functools import cache
from importlib import metadata

DISTRIBUTION = "judgebench"

# Every distribution whose code produces or serialises a number of a report: the
# statistics (numpy, scipy, pandas, statsmodels, krippendorff, crowd-kit and the
# scikit-learn it builds on, evalica), the data path (pyarrow reads exports and
# hashes tables), and orjson, which writes every float of the stored report.
COMPUTING_LIBRARIES = (
    "numpy",
    "scipy",
    "pandas",
    "statsmodels",
    "krippendorff",
    "crowd-kit",
    "scikit-learn",
    "evalica",
    "pyarrow",
    "orjson",
)


@cache
def platform_version() -> str:
    """The installed platform's version, e.g. ``"0.1.0"``."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:  # a checkout run without installing
        raise RuntimeError(
            f"The {DISTRIBUTION} distribution is not installed; run `pip install -e .` "
            "(make install) so its version can be read."
        ) from exc


@cache
def library_versions() -> dict[str, str]:
    """``{distribution: version}`` of COMPUTING_LIBRARIES, plus ``python``; a library
    that is not installed is listed as ``"not installed"``."""
    versions = {"python": platform.python_version()}
    for name in COMPUTING_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
