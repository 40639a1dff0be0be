#!/usr/bin/env python3
"""Kernel.validate() (the launch's argument path) on stand-in tensors, no
GPU: the TensorArg array of the last call is reused while every tensor
reads the same (pointer, shape, strides, dtype, device) and described
again when one changes.

With more arguments NAME=DTYPE or NAME=D0xD1x... (a tensor of the
manifest, e.g. arg6=torch.bfloat16 or arg6=4x512), each replaces that
tensor's dtype or shape in a call of its own and prints what validate()
says.

usage: launch_args_driver.py <libmoe_cuda_runtime.so> <manifest.json>
           [NAME=DTYPE | NAME=SHAPE ...]
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "python"))
import moe_runtime  # noqa: E402

TORCH_NAMES = {v: k for k, v in moe_runtime._TORCH_DTYPES.items()}


class DType:
    """One object per name, as torch's dtypes."""
    known = {}

    def __new__(cls, name):
        if name not in cls.known:
            cls.known[name] = super().__new__(cls)
            cls.known[name].name = name
        return cls.known[name]

    def __str__(self):
        return self.name


class Device:
    type = "cuda"
    index = 0


class Tensor:
    """What describe_tensor() reads of a torch tensor."""

    def __init__(self, ptr, shape, dtype):
        self.ptr, self.shape, self.dtype = ptr, tuple(shape), DType(dtype)
        self.device = Device()
        self.is_cuda = True

    def stride(self):
        out, step = [], 1
        for d in reversed(self.shape):
            out.append(step)
            step *= d
        return tuple(reversed(out))

    def data_ptr(self):
        return self.ptr

    def get_device(self):
        return 0


lib, path = sys.argv[1], sys.argv[2]
moe_runtime.load_library(lib)
text = open(path).read()
spec = json.loads(text)["tensors"]
kernel = moe_runtime.Kernel.unloaded(text)


def tensors(T, ptr_base=1 << 20):
    return [Tensor(ptr_base * (i + 1), [T if d == "T" else d
                                        for d in t["shape"]],
                   TORCH_NAMES[t["dtype"]]) for i, t in enumerate(spec)]


args = tensors(4)
print("T", kernel.validate(*args))
first = kernel._described[1]
print("T", kernel.validate(*args), "reused", kernel._described[1] is first)
print("T", kernel.validate(*tensors(4)), "equal tensors reused",
      kernel._described[1] is first)
print("T", kernel.validate(*tensors(5)), "new T described again",
      kernel._described[1] is not first)
moved = tensors(5, ptr_base=1 << 21)
print("T", kernel.validate(*moved), "new pointers described again",
      kernel._described[1][0].data == 1 << 21)
wrong = tensors(5)
wrong[0].dtype = DType("torch.float32")
try:
    kernel.validate(*wrong)
    print("wrong dtype accepted")
except moe_runtime.MoeRuntimeError as e:
    print("wrong dtype:", e)
print("T", kernel.validate(*tensors(5)), "after the error")
for change in sys.argv[3:]:
    name, value = change.split("=")
    args = tensors(5)
    i = next(i for i, t in enumerate(spec) if t["name"] == name)
    if value.startswith("torch."):
        args[i].dtype = DType(value)
    else:
        args[i].shape = tuple(int(d) for d in value.split("x"))
    try:
        kernel.validate(*args)
        print(change, "accepted")
    except moe_runtime.MoeRuntimeError as e:
        print(change + ":", e)
kernel.close()
