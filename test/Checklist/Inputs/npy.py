#!/usr/bin/env python3
"""Writes and prints small .npy files without numpy (checklist tests).

  npy.py write OUT.npy DTYPE SHAPE VALUES   DTYPE: f4|i4|i8, SHAPE: 2x3,
                                            VALUES: comma list (nan, inf, -inf)
  npy.py print FILE.npy                     one line: dtype shape values
"""
import math
import struct
import sys

CODES = {"f4": "f", "i4": "i", "i8": "q"}


def write(path, dtype, shape, values):
    dims = [int(d) for d in shape.split("x")] if shape else []
    vals = [v for v in values.split(",") if v != ""]
    n = 1
    for d in dims:
        n *= d
    if len(vals) == 1 and n != 1:
        vals = vals * n
    assert len(vals) == n, f"{len(vals)} values for shape {dims}"
    conv = float if dtype == "f4" else int
    data = struct.pack("<%d%s" % (n, CODES[dtype]), *[conv(v) for v in vals])
    shp = "(" + "".join(f"{d}, " for d in dims).rstrip(" ") + ")" if dims else "()"
    if len(dims) > 1:
        shp = "(" + ", ".join(str(d) for d in dims) + ")"
    header = "{'descr': '<%s', 'fortran_order': False, 'shape': %s, }" % (dtype, shp)
    pad = 64 - (10 + len(header) + 1) % 64
    header += " " * (pad % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)))
        f.write(header.encode("latin1") + data)


def show(path):
    raw = open(path, "rb").read()
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = raw[10:10 + hlen].decode("latin1")
    descr = header.split("'descr': '")[1].split("'")[0]
    shape = header.split("'shape': (")[1].split(")")[0]
    dims = [int(d) for d in shape.split(",") if d.strip()]
    n = 1
    for d in dims:
        n *= d
    body = raw[10 + hlen:]
    if descr == "<u2":  # bf16
        vals = [struct.unpack("<f", struct.pack("<I", h << 16))[0]
                for h in struct.unpack("<%dH" % n, body[:2 * n])]
    else:
        vals = struct.unpack("<%d%s" % (n, CODES[descr[1:]]), body[:4 * n if descr != "<i8" else 8 * n])
    fmt = lambda v: ("nan" if math.isnan(v) else repr(v)) if isinstance(v, float) else str(v)
    print(descr, "x".join(map(str, dims)), " ".join(fmt(v) for v in vals))


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(*sys.argv[2:6])
    else:
        show(sys.argv[2])
