"""A page whose execution failed fails every build until it executes, and the execution
table says why, in words.

A build of a one-page book whose cell fails until a file appears: the first build fails;
the second, with nothing changed, used to exit 0 and leave the traceback in the page.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A page

```{code-cell} ipython3
from pathlib import Path

assert Path("ready").exists(), "not ready yet"
print("ran to the end")
```

```{execution-table}
```
"""

CONFIG = f"""title: failures
only_build_toc_files: true
execute:
  execute_notebooks: cache
  allow_errors: false
sphinx:
  local_extensions:
    execution_status: {ROOT / "book" / "_ext"}
"""


def _build(book: Path) -> subprocess.CompletedProcess:
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    return subprocess.run([str(jupyter_book), "build", str(book), "-W", "-n", "--keep-going"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.fixture
def book(tmp_path) -> Path:
    (tmp_path / "_config.yml").write_text(CONFIG)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    (tmp_path / "page.md").write_text(PAGE)
    return tmp_path


def test_a_failed_page_fails_every_build_until_it_runs(book):
    first = _build(book)
    assert first.returncode != 0
    again = _build(book)  # nothing changed
    assert again.returncode != 0, again.stdout[-3000:]
    assert "page holds a failed execution (CellExecutionError: AssertionError: not ready yet)" in (
        again.stdout + again.stderr
    )
    html = (book / "_build" / "html" / "page.html").read_text()
    assert "failed: CellExecutionError: AssertionError: not ready yet" in html

    (book / "ready").touch()
    fixed = _build(book)
    assert fixed.returncode == 0, fixed.stdout[-3000:] + fixed.stderr[-3000:]
    html = (book / "_build" / "html" / "page.html").read_text()
    assert "ran to the end" in html and "Traceback" not in html
    assert "<p>passed</p>" in html
