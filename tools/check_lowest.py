"""Fail unless every dependency of the installed cnnbook sits at its declared lower bound.

`make test-lowest` installs cnnbook with `uv pip install --resolution lowest-direct`
next to the test tools; a test tool that needs a newer release of one of cnnbook's
dependencies would quietly lift it, and the run would no longer test the bound. This
reads the bounds from the installed package's metadata (pyproject.toml's
`dependencies`), compares each with the installed version, prints the table and exits
with 1 if any differs. Arguments `name==version` name the exceptions a caller allows,
each with its reason beside it (`make test-lowest`: IPython 7.23.1, the lowest that
ipykernel 6 accepts).
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import requires, version

BOUND = re.compile(r"^([A-Za-z0-9._-]+)\s*>=\s*([0-9][0-9.]*)\s*$")


def release(text: str) -> tuple[int, ...]:
    """'2.4' and '2.4.0' are the same release; '2.4.0+cu121' is 2.4.0."""
    parts = [int(p) for p in re.match(r"[0-9.]*[0-9]", text)[0].split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def main(allowed: list[str]) -> int:
    allow = dict(a.split("==", 1) for a in allowed)
    bad = []
    for requirement in requires("cnnbook") or []:
        if ";" in requirement:  # an extra or a marker: not installed by the lowest run
            continue
        match = BOUND.match(requirement)
        if not match:
            bad.append(f"{requirement}: not of the form name>=version")
            continue
        name, bound = match.groups()
        installed = version(name)
        same = release(installed) == release(bound)
        excepted = not same and name in allow and release(installed) == release(allow[name])
        verdict = "ok" if same else "allowed" if excepted else "ABOVE"
        print(f"{name:14} bound {bound:8} installed {installed:14} {verdict}")
        if not (same or excepted):
            bad.append(f"{name} {installed} is not its lower bound {bound}")
    for line in bad:
        print(f"error: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
