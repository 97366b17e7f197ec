"""The grader against notebooks written to buy marks, hurt a classmate or stop the batch.

One notebook per class of attack, graded in one batch of two at a time beside an honest
student (the solutions), the way instructors run it. Each test names what the attack
tried; the honest student's full marks are checked once for the whole batch, and every
attack is first shown to work outside the grader where that is possible, so a test
cannot pass because the attack was broken.
"""

import csv
import os
import re
import shutil
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F
from test_grading import FULL, LIMITS, POINTS, SOLUTIONS, solution_with, with_cells

from cnnbook.grading.chapters.ch01 import CONV_OPS, POOL_OPS
from cnnbook.grading.engine import isolation
from cnnbook.grading.engine.grader import grade_folder
from conftest import ROOT

FORMULA = "(size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1"
SIGNATURE = "def conv2d_naive(x, weight, bias=None, stride=1, padding=0, dilation=1):\n"

# 1. A forward convolution computed by the backward operator of a transposed one.
BACKWARD_AS_FORWARD = SIGNATURE + textwrap.indent(
    textwrap.dedent("""\
    import torch
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    out_h = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    out_w = (w + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    extra = [h - ((out_h - 1) * stride - 2 * padding + dilation * (kh - 1) + 1),
             w - ((out_w - 1) * stride - 2 * padding + dilation * (kw - 1) + 1)]
    grad, _, _ = torch.ops.aten.convolution_backward(
        x, x.new_empty(n, o, out_h, out_w), weight, None, [stride] * 2, [padding] * 2,
        [dilation] * 2, True, extra, 1, [True, False, False])
    return grad if bias is None else grad + bias.view(1, -1, 1, 1)
    """),
    "    ",
)


def _body(source: str) -> str:
    return textwrap.indent(textwrap.dedent(source).strip(), " " * 8)


def conv_output_size_that(attempt: str, on_success: str = "-1") -> str:
    """`conv_output_size` that first tries `attempt` and returns `on_success` (a wrong
    answer, so success shows as lost points) unless the attempt raised."""
    return (
        "def conv_output_size(size, kernel, padding=0, stride=1, dilation=1):\n"
        f"    try:\n{_body(attempt)}\n    except Exception:\n"
        f"        return {FORMULA}\n    return {on_success}"
    )


# 2. Code that runs while the definitions load, through a base class's hook.
LOAD_TIME_SNOOP = """
class Spy:
    def __init_subclass__(cls, **kwargs):
        import os
        cls.seen = sorted(os.listdir("cases")) if os.path.isdir("cases") else []
        cls.job = open("job.pt", "rb").read() if os.path.exists("job.pt") else b""

class Agent(Spy):
    pass
"""
LOAD_TIME_CONV = """
class Base:
    def __init_subclass__(cls, **kwargs):
        import torch.nn.functional as F, torch
        cls.answer = F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3))

class Sneak(Base):
    pass
"""

# 3. Switching the watch off from inside, by walking the caller's frames.
BLINDER = SIGNATURE + textwrap.indent(
    textwrap.dedent("""\
    import sys
    import torch.nn.functional as F
    frame = sys._getframe(1)
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if type(value).__name__ == "Watch":
                value.__exit__(None, None, None)
                value.found.clear()
                value.tampered.clear()
        frame = frame.f_back
    return getattr(F, "".join(["con", "v2d"]))(x, weight, bias, stride, padding, dilation)
    """),
    "    ",
)

# 3b. A returned tensor whose own methods compute the answer once the watch is off.
SHAPESHIFTER = """import torch
import torch.nn.functional as F
class Shifter(torch.Tensor):
    def detach(self):
        return getattr(F, "con" + "v2d")(*self.call)
    def cpu(self):
        return self.detach()
    def clone(self):
        return self.detach()
""" + SIGNATURE + """    out = torch.zeros(1).as_subclass(Shifter)
    out.call = (x, weight, bias, stride, padding, dilation)
    return out
"""

# 6. A child that lies on its report pipe (the pipe's number is in its argv).
FORGER = """
import sys, os, struct, io, torch
fd = int(sys.argv[2])
buffer = io.BytesIO()
torch.save({"status": "ran", "outputs": [{"value": 1}], "detail": 5}, buffer)
for kind, payload in ((b"D", buffer.getvalue()), (b"S", b"no-such-exercise")):
    os.write(fd, struct.pack(">cI", kind, len(payload)) + payload)
os._exit(0)
"""
FLOODER = """
import sys, os, struct
os.write(int(sys.argv[2]), struct.pack(">cI", b"D", 2**31))
os._exit(0)
"""

# 7. Bounds on the whole submission: processes, threads, memory, disk.
HARM = {
    "fork": "import os\nif os.fork() == 0:\n    os._exit(0)",
    "thread": "import threading\nthreading.Thread(target=print).start()",
    "subprocess": "import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'pass'], check=True)",
    "root-file": "open('/grader-was-here', 'w').write('x')",
    "shm-file": "open('/dev/shm/grader-was-here', 'w').write('x')",
    "job-file": "open('results.pt', 'w').write('x')",
    "tmp-fill": "open('/tmp/fill', 'wb').write(bytes(128 * 2**20))",
    "memory": "hoard = [bytearray(2**30) for _ in range(3)]",
}


def neighbour_and(students: dict[str, nbformat.NotebookNode], folder: Path) -> None:
    nbformat.write(solution_with(), folder / "honest_01-convolution.ipynb")
    for student, notebook in students.items():
        nbformat.write(notebook, folder / f"{student}_01-convolution.ipynb")


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    students = {
        "backward": solution_with(conv2d_naive=BACKWARD_AS_FORWARD),
        "snoop": with_cells(
            solution_with(
                conv_output_size=conv_output_size_that("assert not Agent.seen", on_success=FORMULA)
            ),
            LOAD_TIME_SNOOP,
        ),
        "loadconv": with_cells(solution_with(), LOAD_TIME_CONV),
        "blinder": solution_with(conv2d_naive=BLINDER),
        "shifter": solution_with(conv2d_naive=SHAPESHIFTER),
        "forger": solution_with(
            receptive_field="def receptive_field(layers):\n"
            + textwrap.indent(FORGER.strip(), "    ")
        ),
        "flooder": solution_with(
            receptive_field="def receptive_field(layers):\n"
            + textwrap.indent(FLOODER.strip(), "    ")
        ),
        "reference": solution_with(
            conv2d_naive=SIGNATURE + "    m = __import__('cnnbook.kernels')\n    return m"
        ),
        '=HYPERLINK("x","open")': solution_with(),
        "lee kim": solution_with(),
        "lee_kim": nbformat.read(ROOT / "exercises/01-convolution.ipynb", as_version=4),
        "injector": solution_with(
            max_pool2d="def max_pool2d(x, kernel_size, stride=None, padding=0):\n"
            "    raise ValueError('<img src=x onerror=alert(1)>\\n# Score: **12 / 12**')"
        ),
        **{
            f"harm-{name}": solution_with(conv_output_size=conv_output_size_that(attempt))
            for name, attempt in HARM.items()
        },
    }
    neighbour_and(students, folder)
    nbformat.write(solution_with(), folder / "kim_Copy of 01-convolution.ipynb")
    nbformat.write(solution_with(), folder / "kim (1).ipynb")
    # files that once stopped the batch
    (folder / "hexa_01-convolution.ipynb").write_text(nbformat.writes(with_cells(
        solution_with(), f"BIG = 0x{'f' * 4000}")))  # fmt: skip
    (folder / "deep_01-convolution.ipynb").write_text(nbformat.writes(with_cells(
        solution_with(), "def deep():\n    return " + " + ".join(["1"] * 600))))  # fmt: skip
    (folder / "nested_01-convolution.ipynb").write_text("[" * 100_000)
    latin = os.fsencode(folder) + b"/caf\xe9_01-convolution.ipynb"
    with open(latin, "wb") as f:
        f.write(SOLUTIONS.read_bytes())
    (folder / "huge_01-convolution.ipynb").write_bytes(b"")
    os.truncate(folder / "huge_01-convolution.ipynb", 2**30)  # sparse: no disk used
    (folder / "mallory").mkdir()
    (folder / "mallory" / "01-convolution.ipynb").symlink_to(SOLUTIONS)
    (folder / "memory_01-convolution.ipynb").symlink_to("/proc/self/mem")
    (folder / "linked-folder").symlink_to(SOLUTIONS.parent, target_is_directory=True)
    out = tmp_path_factory.mktemp("grades")
    rows = grade_folder(folder, "01", out, jobs=2, seed=7, limits=LIMITS, log=lambda _: None)
    with open(out / "grades.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    return {"rows": rows, "csv": csv_rows, "out": out, "folder": folder}


def row(batch, student, file_part=""):
    return next(r for r in batch["rows"] if r["student"] == student and file_part in r["file"])


def test_the_honest_neighbour_keeps_full_marks(batch):
    assert row(batch, "honest")["total"] == FULL


def test_the_hostile_notebooks_really_attack():
    """Outside the grader each attack does what it was written for."""
    namespace: dict = {}
    exec(BACKWARD_AS_FORWARD, namespace)
    x, weight, bias = torch.randn(2, 3, 9, 8), torch.randn(4, 3, 3, 2), torch.randn(4)
    for stride, padding, dilation in ((1, 0, 1), (2, 1, 2)):
        got = namespace["conv2d_naive"](x, weight, bias, stride, padding, dilation)
        torch.testing.assert_close(got, F.conv2d(x, weight, bias, stride, padding, dilation))
    namespace = {}
    exec(SHAPESHIFTER, namespace)
    returned = namespace["conv2d_naive"](x, weight, bias)
    torch.testing.assert_close(returned.detach(), F.conv2d(x, weight, bias))
    assert {"aten::convolution_backward", "aten::max_pool2d_with_indices_backward"} <= (
        CONV_OPS | POOL_OPS
    )


def test_an_operator_missing_from_a_hand_list_is_watched(batch):
    got = row(batch, "backward")
    assert got["conv2d_naive"] == 0 and got["total"] == FULL - POINTS["conv2d_naive"]
    assert "aten::convolution_backward" in feedback(batch, "backward")


def test_code_run_while_loading_sees_no_inputs(batch):
    assert row(batch, "snoop")["total"] == FULL
    assert "code that runs when a class is made" in row(batch, "snoop")["review"]


def test_a_forbidden_operator_while_loading_costs_the_notebook(batch):
    got = row(batch, "loadconv")
    assert got["total"] == 0
    assert "aten::convolution" in feedback(batch, "loadconv")


def test_switching_the_watch_off_earns_nothing_and_is_flagged(batch):
    got = row(batch, "blinder")
    assert got["conv2d_naive"] == 0
    assert "frame introspection" in got["review"]
    assert "tampers with the grader" in feedback(batch, "blinder").lower()


def test_a_returned_tensor_runs_none_of_its_own_code(batch):
    got = row(batch, "shifter")
    assert got["conv2d_naive"] == 0 and got["total"] == FULL - POINTS["conv2d_naive"]
    assert "shape" in feedback(batch, "shifter")


def test_a_forged_report_loses_only_its_exercise(batch):
    for student in ("forger", "flooder"):
        got = row(batch, student)
        assert got["receptive_field"] == 0
        assert got["total"] == FULL - POINTS["receptive_field"], student
        assert "protocol" in feedback(batch, student) or "readable" in feedback(batch, student)


def test_graded_code_cannot_import_the_course_package(batch):
    got = row(batch, "reference")
    assert got["conv2d_naive"] == 0
    assert "not available to graded code" in feedback(batch, "reference") or (
        "No module named" in feedback(batch, "reference")
    )


@pytest.mark.parametrize("name", sorted(HARM))
def test_a_submission_cannot_spread_or_write_outside_its_bounds(batch, name):
    assert row(batch, f"harm-{name}")["total"] == FULL, feedback(batch, f"harm-{name}")
    assert not Path("/grader-was-here").exists()
    assert not Path("/dev/shm/grader-was-here").exists()


def test_links_are_never_followed(batch):
    for student, part in (("mallory", ""), ("memory", ""), ("linked-folder", "")):
        got = row(batch, student, part)
        assert "a link" in got["status"] and got["total"] == "", got


@pytest.mark.parametrize(
    ("student", "status", "note"),
    [
        ("hexa", "graded", "too large or too deeply nested"),
        ("deep", "graded", "too large or too deeply nested"),
        ("nested", "unreadable", "nested or sized beyond reason"),
    ],
)
def test_files_that_once_stopped_the_batch_get_a_row(batch, student, status, note):
    got = row(batch, student)
    assert got["status"] == status and got["total"] == (FULL if status == "graded" else 0)
    assert note in feedback(batch, student)


def test_a_huge_file_is_not_read(batch):
    got = row(batch, "huge")
    assert got["status"] == "the file is 1024 MiB, more than a notebook can be"


def test_a_file_name_with_a_latin1_byte(batch):
    got = next(r for r in batch["csv"] if r["file"].startswith("caf"))
    assert got["file"] == "caf\ufffd_01-convolution.ipynb" and float(got["total"]) == FULL


def test_a_formula_in_a_name_is_quoted_in_the_gradebook(batch):
    cells = [value for r in batch["csv"] for value in r.values()]
    assert not any(value.startswith(("=", "+", "@")) for value in cells if value)
    assert any(value.startswith("'=HYPERLINK") for value in cells)


def test_similar_names_get_their_own_feedback(batch):
    files = {row(batch, s)["feedback"] for s in ("lee kim", "lee_kim")}
    assert len(files) == 2
    texts = [(batch["out"] / "feedback" / f).read_text() for f in files]
    assert sorted("12 / 12" in t for t in texts) == [False, True]


def test_two_files_of_one_student_are_both_graded_and_flagged(batch):
    kims = [r for r in batch["rows"] if r["student"] == "kim"]
    assert [r["total"] for r in kims] == [FULL, FULL]
    assert all(r["review"].startswith("2 files for this student") for r in kims)


def test_text_from_a_submission_is_inert_in_feedback(batch):
    text = feedback(batch, "injector")
    assert "<img" not in text and "&lt;img" in text
    assert not any(line.startswith("# Score") for line in text.splitlines())
    assert sum(line.startswith("Score: ") for line in text.splitlines()) == 1


def feedback(batch, student: str) -> str:
    return (batch["out"] / "feedback" / row(batch, student)["feedback"]).read_text()


def test_every_convolution_and_pooling_operator_is_watched():
    """Enumerated again, by schema rather than by name: every ATen operator that slides
    a window (a stride and a padding, or a kernel size) must be watched by Chapter 1's
    convolution or pooling exercises, unless it is one a solution needs."""
    needed = {"aten::im2col", "aten::col2im",  # F.unfold and F.fold: the unfold exercise
              "aten::repeat_interleave", "aten::to_padded_tensor",
              "aten::nested_to_padded_tensor"}  # output sizes, not windows  # fmt: skip
    sliding = set()
    for schema in torch._C._jit_get_all_schemas():
        arguments = {a.name for a in schema.arguments}
        if schema.name.startswith("aten::") and (
            {"stride", "padding"} <= arguments or "kernel_size" in arguments
            or "output_size" in arguments or re.search(r"conv(?!ert)|pool", schema.name)
        ):  # fmt: skip
            sliding.add(schema.name)
    assert sliding - needed - {n for n in sliding if "upsample" in n} <= CONV_OPS | POOL_OPS


def test_the_fallback_as_root_drops_privileges_before_loading(tmp_path):
    """Without bubblewrap (allowed explicitly), code that runs while loading must already
    be nobody, unable to fork a daemon, and unable to write another student's folder."""
    if os.geteuid() != 0:
        pytest.skip("the privilege drop happens only when the grader runs as root")
    private = tmp_path / "root-only"
    private.mkdir(mode=0o700)
    token = f"cnnbook-daemon-{uuid.uuid4().hex}"
    hook = f"""
class Hook:
    def __init_subclass__(cls, **kwargs):
        import subprocess
        try:
            open("{private}/written", "w").write("as root")
        except OSError:
            pass
        try:
            subprocess.Popen(["/bin/sh", "-c", "sleep 60; : {token}"], start_new_session=True)
        except OSError as error:
            cls.error = error

class Child(Hook):
    pass
"""
    folder = tmp_path / "in"
    folder.mkdir()
    nbformat.write(with_cells(solution_with(), hook), folder / "eve_01-convolution.ipynb")
    rows = grade_folder(folder, "01", tmp_path / "out", seed=3, limits=LIMITS,
                        level=isolation.PROCESS_ONLY, require_isolation=False,
                        log=lambda _: None)  # fmt: skip
    leftovers = subprocess.run(["pgrep", "-f", token], capture_output=True, text=True).stdout
    for pid in leftovers.split():
        subprocess.run(["kill", "-9", pid], check=False)
    assert not (private / "written").exists()
    assert leftovers == ""
    assert rows[0]["total"] == FULL


def test_a_wheel_install_hides_the_reference_code(tmp_path):
    """Installed as a wheel the package sits in site-packages, which the sandbox mounts:
    the sandbox must cover it. Built and installed into a hard-linked copy of this
    environment, the grader must refuse `import cnnbook` to a submission."""
    if isolation.detect() != isolation.NAMESPACES:
        pytest.skip("needs the namespace sandbox")
    if sys.prefix == sys.base_prefix:
        pytest.skip("needs a virtual environment to copy")
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools")
    copy = tmp_path / "venv"
    if subprocess.run(["cp", "-al", sys.prefix, copy]).returncode != 0:
        pytest.skip("cannot hard-link the environment")
    source, wheels = tmp_path / "source", tmp_path / "wheels"  # the build writes beside it
    shutil.copytree(ROOT / "cnnbook", source / "cnnbook",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-q", "-w", wheels, source], capture_output=True, text=True)  # fmt: skip
    assert built.returncode == 0, built.stderr
    installed = subprocess.run([copy / "bin/python", "-m", "pip", "install", "-q", "--no-deps",
                                "--force-reinstall", *wheels.glob("cnnbook-*.whl")],
                               capture_output=True, text=True)  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    folder = tmp_path / "in"
    folder.mkdir()
    probe = conv_output_size_that(  # past the child's import guard: only the mount is left
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'Course' not in type(f).__name__]\n"
        "__import__('cnnbook.kernels')"
    )
    nbformat.write(solution_with(conv_output_size=probe), folder / "zed_01-convolution.ipynb")
    done = subprocess.run([copy / "bin/python", "-m", "cnnbook.grading", folder, "--chapter", "01",
                           "--out", tmp_path / "out"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    location = subprocess.run([copy / "bin/python", "-c", "import cnnbook; print(cnnbook.__file__)"],
                              capture_output=True, text=True, cwd=tmp_path).stdout  # fmt: skip
    assert "site-packages" in location
    with open(tmp_path / "out" / "grades.csv") as f:
        assert float(next(csv.DictReader(f))["total"]) == FULL


def replaced(notebook: str, name: str, source: str) -> nbformat.NotebookNode:
    """The solutions notebook `notebook` with the cell defining `name` replaced."""
    nb = nbformat.read(ROOT / "solutions" / f"{notebook}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and f"def {name}(" in c.source)
    cell.source = source
    return nb


TRANSPOSED_BY_BACKWARD = """import torch
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, dilation=1):
    n, _, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    out_h = (h - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1
    out_w = (w - 1) * stride - 2 * padding + dilation * (kw - 1) + output_padding + 1
    grad, _, _ = torch.ops.aten.convolution_backward(
        x, x.new_empty(n, c_out, out_h, out_w), weight, None, [stride] * 2, [padding] * 2,
        [dilation] * 2, False, [0, 0], 1, [True, False, False])
    return grad if bias is None else grad + bias.view(1, -1, 1, 1)
"""
GRADIENT_BY_TRANSPOSED_FLAG = """import torch
import torch.nn.functional as F
def conv2d_backward(x, weight, grad_output):
    grad_x = torch.ops.aten.convolution(grad_output, weight, None, [1, 1], [0, 0], [1, 1], True,
                                        [0, 0], 1)
    grad_weight = F.conv2d(x.transpose(0, 1), grad_output.transpose(0, 1)).transpose(0, 1)
    return grad_x, grad_weight, grad_output.sum(dim=(0, 2, 3))
"""


@pytest.mark.parametrize(
    ("notebook", "exercise", "source", "operator"),
    [
        ("07-segmentation", "conv_transpose2d", TRANSPOSED_BY_BACKWARD,
         "aten::convolution_backward"),
        ("02-backprop-and-losses", "conv2d_backward", GRADIENT_BY_TRANSPOSED_FLAG,
         "aten::convolution[transposed]"),
    ],
)  # fmt: skip
def test_other_chapters_refuse_the_operator_behind_the_answer(
    tmp_path, notebook, exercise, source, operator
):
    """Chapter 7's transposed convolution through a convolution's backward operator with
    transposed=False, Chapter 2's input gradient through a transposed convolution: both
    right (checked here first), both refused by the grader."""
    namespace: dict = {}
    exec(source, namespace)
    x, weight = torch.randn(2, 3, 5, 6, dtype=torch.float64), torch.randn(3, 4, 2, 3)
    if exercise == "conv_transpose2d":
        torch.testing.assert_close(namespace[exercise](x, weight.double(), None, 2, 1, 1, 1),
                                   F.conv_transpose2d(x, weight.double(), None, 2, 1, 1, 1, 1))  # fmt: skip
    else:
        leaves = [x.clone().requires_grad_(), weight.transpose(0, 1).double().requires_grad_()]
        out = F.conv2d(*leaves)
        grad = torch.randn_like(out)
        expected = torch.autograd.grad(out, leaves, grad)
        got = namespace[exercise](x, leaves[1].detach(), grad)
        torch.testing.assert_close(got[:2], expected)
    folder = tmp_path / "in"
    folder.mkdir()
    nbformat.write(replaced(notebook, exercise, source), folder / f"eve_{notebook}.ipynb")
    grade_folder(folder, notebook[:2], tmp_path / "out", seed=11, limits=LIMITS,
                 log=lambda _: None)  # fmt: skip
    with open(tmp_path / "out" / "grades.csv") as f:
        got = next(csv.DictReader(f))
    assert float(got[exercise]) == 0
    assert operator in (tmp_path / "out" / "feedback" / got["feedback"]).read_text()
