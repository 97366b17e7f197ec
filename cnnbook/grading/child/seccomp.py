"""Forbid the child process to create processes or threads, with a seccomp filter.

A submission that forks can multiply the memory limit (which is per process), leave a
daemon behind that rewrites files after the batch, or run code while no operator watch
is on; a thread can do the last two. The filter answers every call that would create a
process or a thread with an error, and nothing can remove it: a seccomp filter only ever
gets stricter, and it is inherited by everything the process could still do. Installed
after the interpreter and torch have started their own threads (with one intra-op
thread, torch needs no new one afterwards), before any submitted code runs; it works
with or without the namespace sandbox. It imports nothing of the course package.

The program is classic BPF over ``struct seccomp_data`` (``nr`` at offset 0, ``arch``
at 4, the first argument's low word at 16 on little-endian machines):

- another architecture than the one the filter was written for (an x32 or 32-bit call
  on a 64-bit kernel): the call fails;
- ``clone3``: fails with ENOSYS, so the C library falls back to ``clone``, whose flags
  (unlike clone3's, which sit in memory) the filter can read;
- ``fork``, ``vfork``, and ``clone`` with any flags: fail with EPERM.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000

LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
JUMP_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
JUMP_GREATER_EQUAL = 0x35  # BPF_JMP | BPF_JGE | BPF_K
RETURN = 0x06  # BPF_RET | BPF_K

# machine -> (audit architecture, {system call: errno}, lowest number of a foreign ABI)
ARCHITECTURES = {
    "x86_64": (0xC000003E, {435: errno.ENOSYS, 56: errno.EPERM, 57: errno.EPERM,
                            58: errno.EPERM}, 0x40000000),  # clone3, clone, fork, vfork
    "aarch64": (0xC00000B7, {435: errno.ENOSYS, 220: errno.EPERM}, None),  # clone3, clone
}  # fmt: skip


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _program(arch: int, refused: dict[int, int], foreign: int | None) -> bytes:
    def op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
        return struct.pack("=HBBI", code, jt, jf, k)

    body = [op(LOAD_WORD, 4), op(JUMP_EQUAL, arch, 1, 0), op(RETURN, RET_ERRNO | errno.EPERM),
            op(LOAD_WORD, 0)]  # fmt: skip
    if foreign is not None:
        body += [op(JUMP_GREATER_EQUAL, foreign, 0, 1), op(RETURN, RET_ERRNO | errno.EPERM)]
    for number, code in refused.items():
        body += [op(JUMP_EQUAL, number, 0, 1), op(RETURN, RET_ERRNO | code)]
    body.append(op(RETURN, RET_ALLOW))
    return b"".join(body)


def supported() -> bool:
    """Whether this machine can install the filter (Linux on x86-64 or ARM64)."""
    return platform.system() == "Linux" and platform.machine() in ARCHITECTURES


def forbid_new_processes() -> None:
    """Install the filter on the calling process; raise OSError if the kernel refuses."""
    if not supported():
        raise OSError(f"no process filter for {platform.system()} on {platform.machine()}")
    program = _program(*ARCHITECTURES[platform.machine()])
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                           ctypes.c_ulong]  # fmt: skip
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
