"""Checks group offsets written by moe-run --save-inputs (no numpy needed).

    check_offsets.py <argN.npy> <rows>

Prints the offsets and 'offsets ok' if they are valid offsets of <rows> rows
grouped by expert: offsets[0] = 0, nondecreasing, offsets[E] = rows.
"""
import ast
import struct
import sys


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", "not a .npy file"
    major = data[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", data[8:10])
        start = 10
    else:
        (hlen,) = struct.unpack("<I", data[8:12])
        start = 12
    header = ast.literal_eval(data[start:start + hlen].decode("latin1"))
    fmt = {"<i4": "i", "<i8": "q"}[header["descr"]]
    count = 1
    for d in header["shape"]:
        count *= d
    body = data[start + hlen:]
    return list(struct.unpack("<%d%s" % (count, fmt),
                              body[:count * struct.calcsize(fmt)]))


def main():
    offsets = read_npy(sys.argv[1])
    rows = int(sys.argv[2])
    print("offsets", offsets)
    counts = [b - a for a, b in zip(offsets, offsets[1:])]
    if offsets[0] != 0 or offsets[-1] != rows or min(counts) < 0:
        print("offsets BAD: expected 0 .. %d, nondecreasing" % rows)
        return 1
    print("offsets ok: %d experts, %d rows, %d experts without rows"
          % (len(counts), rows, counts.count(0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
