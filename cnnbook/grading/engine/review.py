"""Flag, for a human, submitted code that reaches for the grader's internals.

The operator watch runs in the same process as the submission, so code that walks the
interpreter's frames or objects, patches modules, loads C functions or reads the job's
files could, in principle, switch it off; no in-process watch can fully defend itself.
A solution to any exercise of this course needs none of those tools, so the grader
reads the code it will run and names every such tool it finds. A flag costs no points:
it puts the submission in the gradebook's `review` column with the reason, for the
instructor to read. What the grader enforces regardless (the sandbox, the limits, the
watch's own checks) is on the instructors page.
"""

from __future__ import annotations

import ast

from cnnbook.grading.engine.extract import Extracted

# name or attribute -> what reaching for it means
INTROSPECTION = {
    **dict.fromkeys(
        (
            "_getframe",
            "f_back",
            "f_locals",
            "f_globals",
            "f_builtins",
            "tb_frame",
            "gi_frame",
            "cr_frame",
            "ag_frame",
            "currentframe",
            "__traceback__",
            "inspect",
            "settrace",
            "setprofile",
            "gettrace",
        ),
        "frame introspection",
    ),
    **dict.fromkeys(
        ("gc", "get_referrers", "get_referents", "get_objects"), "the garbage collector"
    ),
    **dict.fromkeys(("ctypes", "cdll", "CDLL", "pythonapi", "_ctypes"), "ctypes"),
    **dict.fromkeys(
        (
            "sys",
            "meta_path",
            "path_hooks",
            "builtins",
            "__builtins__",
            "__globals__",
            "__code__",
            "__closure__",
            "__subclasses__",
            "__import__",
            "importlib",
            "__dict__",
            "__class__",
            "__bases__",
            "__mro__",
        ),
        "module or object surgery",
    ),
    **dict.fromkeys(
        (
            "__init_subclass__",
            "__set_name__",
            "__class_getitem__",
            "__mro_entries__",
            "__prepare__",
            "metaclass",
            "__del__",
            "weakref",
            "atexit",
        ),
        "code that runs when a class is made or an object dies",
    ),
    **dict.fromkeys(
        (
            "_C",
            "library",
            "_python_dispatch",
            "TorchDispatchMode",
            "TorchFunctionMode",
            "__torch_dispatch__",
            "__torch_function__",
            "_dispatch",
            "ops",
            "_ops",
            "overrides",
        ),
        "PyTorch's dispatcher",
    ),
    **dict.fromkeys(
        (
            "os",
            "posix",
            "io",
            "threading",
            "_thread",
            "signal",
            "subprocess",
            "socket",
            "multiprocessing",
            "resource",
            "pathlib",
            "shutil",
            "tempfile",
            "pickle",
            "marshal",
        ),
        "the operating system",
    ),
}
BUILTINS = {  # flagged when called by their plain name, not as someone's attribute
    **dict.fromkeys(("globals", "locals", "vars", "dir"), "module or object surgery"),
    **dict.fromkeys(("exec", "eval", "compile", "breakpoint"), "running code built at run time"),
    "open": "reading or writing files",
}
JOB_PATHS = ("job.pt", "/job", "/grader", "/proc/", "cnnbook")


def review_reasons(extracted: Extracted) -> list[str]:
    """What the code the grader will run reaches for, one line per kind, sorted.
    Docstrings are prose, not code, and are not read."""
    found: dict[str, set[str]] = {}
    nodes = [n for d in extracted.definitions.values() for n in ast.walk(d)]
    docstrings = {id(n.value) for n in nodes if isinstance(n, ast.Expr)
                  and isinstance(n.value, ast.Constant)}  # fmt: skip
    for node in nodes:
        if isinstance(node, ast.Name):
            pairs = [(node.id, BUILTINS.get(node.id) or INTROSPECTION.get(node.id))]
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):  # __init_subclass__
            pairs = [(node.name, INTROSPECTION.get(node.name))]
        elif isinstance(node, ast.Attribute):
            pairs = [(node.attr, INTROSPECTION.get(node.attr))]
        elif isinstance(node, ast.alias):
            pairs = [(part, INTROSPECTION.get(part)) for part in node.name.split(".")]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            text = node.value[:1000]  # getattr(sys, "_getframe") names it in a string
            hits = [(path, "the grader's files") for path in JOB_PATHS if path in text]
            pairs = hits or [(text, INTROSPECTION.get(text))]
        else:
            continue
        for name, kind in pairs:
            if kind:
                found.setdefault(kind, set()).add(name)
    return [f"{kind}: {', '.join(sorted(names)[:6])}" for kind, names in sorted(found.items())]
