"""The child's report pipe: frames of one kind byte, a 4-byte big-endian length, a payload.

Results travel here rather than as files, so the child needs no writable folder on the
host, and the parent reads exactly as many bytes as it allows. The parent trusts none
of it: it accepts only the frames the protocol expects next (`engine.sandbox`).
"""

import os
import struct

START = b"S"  # payload: the exercise's name
DONE = b"D"  # payload: torch.save of {"status", "outputs", "detail"}
FORBIDDEN = b"F"  # payload: an operator the watch just saw
ERROR = b"E"  # payload: why the definitions could not be loaded
HEADER = struct.Struct(">cI")


def write_frame(fd: int, kind: bytes, payload: bytes) -> None:
    data = HEADER.pack(kind, len(payload)) + payload
    while data:
        data = data[os.write(fd, data) :]
