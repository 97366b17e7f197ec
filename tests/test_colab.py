"""Installing the course in Colab must change no package Colab ships.

A Colab runtime arrives with some 650 packages, many already imported and IPython pinned
by `google-colab`; the notebooks' install cell (`%pip install -q "cnnbook @ git+..."`,
plus a few extra packages in some chapters) may only add to them. When it upgraded
IPython (cnnbook once asked for `ipython>=8`), restarting the runtime broke. So these
tests resolve what the install cells install, with uv, for Colab's Python on Linux
x86_64, against Colab's published `pip freeze` (tests/colab/, see SOURCE.txt there).

The resolution reads PyPI's metadata (seconds; nothing is installed). Without the index
the tests skip; in CI (``CI=true``) that is a failure.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version
from uv import find_uv_bin

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (in the lock for 3.10)
    import tomli as tomllib

COLAB = ROOT / "tests" / "colab"
# Each runtime's `pip freeze` and the file naming its Python, as Google publishes them.
RUNTIMES = {
    "cpu": ("pip-freeze.txt", "os-info.txt"),
    "gpu": ("pip-freeze.gpu.txt", "os-info-gpu.txt"),
}
PYPI = "https://pypi.org/simple"  # where Colab's pip installs from
PLATFORM = "x86_64-manylinux_2_35"  # Colab's Ubuntu 22.04 (os-info.txt) has glibc 2.35
# PyPI's metadata, kept between runs (a cold resolution takes several times longer);
# per user and outside the repository, so any clone, run by any user, root included, can
# write it.
CACHE = Path(tempfile.gettempdir()) / f"cnnbook-uv-cache-{os.getuid()}"
INSTALL_LINE = re.compile(r"^\s*%pip install (.+)$", re.MULTILINE)


def colab_packages(freeze: Path) -> dict[str, Version | None]:
    """Each package of a `pip freeze` list and its version.

    Most lines are `name==version`. Colab installs a few packages from URLs: torch's CPU
    wheels and a spaCy model (the version is in the wheel's file name), google-colab from
    a local sdist (so is its version), and one package from git (None: no version to
    keep, so any version pip chose for it would be a change)."""
    packages: dict[str, Version | None] = {}
    for line in freeze.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.url is None:
            (pin,) = requirement.specifier
            version: Version | None = Version(pin.version)
        else:
            filename = unquote(urlparse(requirement.url).path.rsplit("/", 1)[-1])
            if filename.endswith(".whl"):
                version = parse_wheel_filename(filename)[1]
            elif filename.endswith(".tar.gz"):
                version = parse_sdist_filename(filename)[1]
            else:
                version = None
        packages[canonicalize_name(requirement.name)] = version
    return packages


def cnnbook_dependencies() -> list[str]:
    """cnnbook's requirements, as pyproject.toml declares them (pip reads the same)."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def notebook_extras() -> list[str]:
    """The packages the notebooks' Colab install lines name besides cnnbook.

    Only `-q` is expected among the options: another (an index, a requirements file)
    would change what is installed in a way this test does not model, so it fails."""
    extras: set[str] = set()
    lines = 0
    for notebook in sorted([*ROOT.glob("book/*.ipynb"), *ROOT.glob("exercises/*.ipynb")]):
        cells = json.loads(notebook.read_text())["cells"]
        sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
        for line in INSTALL_LINE.findall("\n".join(sources)):
            lines += 1
            args = shlex.split(line)
            options = {arg for arg in args if arg.startswith("-")}
            assert options <= {"-q"}, f"{notebook.name}: unexpected pip options {options}"
            named = [Requirement(arg) for arg in args if arg not in options]
            assert "cnnbook" in {r.name for r in named}, f"{notebook.name}: {line}"
            extras |= {str(r) for r in named if r.name != "cnnbook"}
    assert lines, "no notebook has a `%pip install` line: has the install cell changed?"
    return sorted(extras)


@dataclass
class Verdict:
    """What installing some requirements would do to a Colab runtime's packages."""

    changes: dict[str, str]  # package -> "Colab's version -> the version pip would install"
    why: str  # uv's explanation when Colab's versions cannot all be kept, else ""

    def __str__(self) -> str:
        changed = ", ".join(f"{name} {change}" for name, change in self.changes.items())
        return f"{changed or 'no change named'}\n{self.why}".strip()


def colab_verdict(requirements: list[str], runtime: str) -> Verdict:
    """Resolve `requirements` for a Colab runtime with every package it ships pinned.

    pip in Colab keeps an installed package that satisfies what is asked and replaces
    one that does not; so an install changes nothing Colab ships exactly when the
    requirements resolve with Colab's versions as constraints, and the resolved versions
    of Colab's packages are then checked too. When they do not resolve, a second
    resolution, with Colab's versions only preferred, names what pip would change."""
    freeze, os_info = RUNTIMES[runtime]
    colab = colab_packages(COLAB / freeze)
    python = re.search(r"^Python (\S+)$", (COLAB / os_info).read_text(), re.MULTILINE)
    assert python, f"no Python version in {os_info}"
    pins = [f"{name}=={version.public}" for name, version in colab.items() if version]
    # PyPI has no local versions (torch 2.11.0+cu128 or +cpu): such a package is pinned to
    # its public version, whose metadata is another build's (PyPI's torch 2.11.0 needs
    # CUDA 13 packages; Colab's cu128 build came with CUDA 12's). pip does not re-resolve
    # an installed package that satisfies the requirements, and its dependencies are
    # already in the list, so it is declared to need nothing.
    builds = [
        f'[[dependency-metadata]]\nname = "{name}"\nversion = "{version.public}"\n'
        "requires-dist = []\n"
        for name, version in colab.items()
        if version and version.local
    ]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "requirements.in").write_text("\n".join(requirements) + "\n")
        (workdir / "colab.txt").write_text("\n".join(pins) + "\n")
        (workdir / "uv.toml").write_text("\n".join(builds))
        kept = _compile(workdir, python[1], "--constraint", "colab.txt")
        why = ""
        if kept.returncode != 0:
            assert "No solution found" in kept.stderr, kept.stderr
            why = kept.stderr.strip()
            # uv prefers the versions already in its output file.
            shutil.copy(workdir / "colab.txt", workdir / "preferred.txt")
            kept = _compile(workdir, python[1], "--output-file", "preferred.txt")
            assert kept.returncode == 0, kept.stderr
    changes = {}
    for line in kept.stdout.splitlines():
        requirement = Requirement(line)  # name==version
        (pin,) = requirement.specifier
        name, version = canonicalize_name(requirement.name), Version(pin.version)
        if name in colab and (colab[name] is None or colab[name].public != version.public):
            changes[name] = f"{colab[name] or 'from a URL'} -> {version}"
    return Verdict(changes, why)


def _compile(workdir: Path, python: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`uv pip compile requirements.in` for Colab's Python and platform, from PyPI alone:
    no uv settings of this machine (files or UV_* variables) take part."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("UV_")}
    command = [
        *(find_uv_bin(), "pip", "compile", "requirements.in", *args),
        *("--config-file", "uv.toml", "--default-index", PYPI),
        *("--python-version", python, "--python-platform", PLATFORM),
        # Builds (an sdist without static metadata) use this interpreter; naming it spares
        # uv a search for Colab's Python, which is not needed to read metadata.
        *("--python", sys.executable),
        *("--no-header", "--no-annotate"),
    ]
    env["UV_CACHE_DIR"] = str(CACHE)
    return subprocess.run(
        command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def pypi() -> None:
    """Skip when PyPI cannot be reached (fail in CI): the resolution reads its metadata."""
    try:
        with urllib.request.urlopen(f"{PYPI}/pip/", timeout=20):
            pass
    except OSError as error:
        why = f"PyPI ({PYPI}) cannot be reached: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires the Colab resolution; {why}")
        pytest.skip(why)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_installing_the_course_in_colab_changes_none_of_its_packages(pypi, runtime):
    verdict = colab_verdict(cnnbook_dependencies() + notebook_extras(), runtime)
    assert not verdict.changes and not verdict.why, (
        f"installing the course in Colab's {runtime} runtime (tests/colab/SOURCE.txt) "
        f"would change: {verdict}"
    )


def test_the_check_names_ipython_when_a_bound_excludes_colabs_ipython(pypi):
    dependencies = [d for d in cnnbook_dependencies() if Requirement(d).name != "ipython"]
    verdict = colab_verdict([*dependencies, "ipython>=8", *notebook_extras()], "gpu")
    assert "ipython" in verdict.changes, str(verdict)
    assert verdict.changes["ipython"].startswith("7.34.0 -> "), str(verdict)
