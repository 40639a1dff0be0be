"""Launch compiled MoE kernels on PyTorch tensors.

A thin ctypes binding of libmoe_cuda_runtime.so (include/moe/Runtime/
MoERuntime.h). The C runtime does all the checking; this module only turns
tensors into argument descriptions and the runtime's errors into exceptions:

    import moe_runtime
    k = moe_runtime.Kernel.load("artifacts/moe_fused_bf16")   # a directory
    k(x, topk_ids, topk_weights, w13, w2, out)                # current stream
    k.launch(x=x, out=out, ...,  stream=s, num_tokens=T)       # by name

Tensors are passed in the order of the manifest's "tensors" list, or by
name. Dtypes map by name: torch.bfloat16 -> bf16, torch.float8_e4m3fn ->
f8E4M3FN, torch.float8_e8m0fnu -> f8E8M0FNU, torch.float4_e2m1fn_x2 or
torch.uint8 -> f4E2M1FN (two values per byte) where the manifest expects
f4E2M1FN, ... A bad argument raises MoeArgumentError (a ValueError) with the
runtime's message, and nothing is launched.

Expert parallelism (several GPUs on NVLink): Symmetric is a buffer per
rank, each mapped on every rank's GPU (Symmetric.create for one process
driving several GPUs, Symmetric.from_pointers for buffers that
torch.distributed._symmetric_memory or NVSHMEM mapped); WaitRecord is the
host-mapped record in which a kernel that timed out waiting for another GPU
says why before it traps (docs/ExpertParallelRuntime.md).

The library is found through, in order: the `path` given to load_library(),
$MOE_RUNTIME_LIB, the build folders of this checkout (build*/lib/,
build*/ for a standalone build), then the dynamic loader's search path.
"""

import ctypes
import glob
import json
import os

__all__ = [
    "MoeRuntimeError",
    "MoeArgumentError",
    "Kernel",
    "Symmetric",
    "WaitRecord",
    "describe_wait_record",
    "load_library",
    "STATUS",
    "DTYPES",
]

MAX_RANK = 8
DIM_T = -1
DEVICE_HOST = -1
INFER_TOKENS = -1
LAUNCH_CHECK_POINTERS = 1
LAUNCH_PDL = 2
MAX_RANKS = 8
WAIT_RECORD_MAGIC = 0x4D4F4557  # 'MOEW'

STATUS = {
    0: "MOE_RT_SUCCESS",
    1: "MOE_RT_ERROR_INVALID_VALUE",
    2: "MOE_RT_ERROR_IO",
    3: "MOE_RT_ERROR_INVALID_MANIFEST",
    4: "MOE_RT_ERROR_DRIVER_UNAVAILABLE",
    5: "MOE_RT_ERROR_CUDA",
    6: "MOE_RT_ERROR_UNSUPPORTED_DEVICE",
    7: "MOE_RT_ERROR_ABI_MISMATCH",
    8: "MOE_RT_ERROR_NOT_LOADED",
    10: "MOE_RT_ERROR_ARG_COUNT",
    11: "MOE_RT_ERROR_ARG_DTYPE",
    12: "MOE_RT_ERROR_ARG_RANK",
    13: "MOE_RT_ERROR_ARG_SHAPE",
    14: "MOE_RT_ERROR_ARG_STRIDE",
    15: "MOE_RT_ERROR_ARG_ALIGNMENT",
    16: "MOE_RT_ERROR_ARG_DEVICE",
    17: "MOE_RT_ERROR_ARG_NULL",
    18: "MOE_RT_ERROR_TOKEN_COUNT",
    19: "MOE_RT_ERROR_WORKSPACE",
    20: "MOE_RT_ERROR_SCALAR",
    21: "MOE_RT_ERROR_TENSOR_MAP",
}
_ARGUMENT_ERRORS = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

# moeRtDType values, by MLIR spelling.
DTYPES = {
    "bf16": 1,
    "f16": 2,
    "f32": 3,
    "f8E4M3FN": 4,
    "f4E2M1FN": 5,
    "f8E8M0FNU": 6,
    "i8": 7,
    "ui8": 8,
    "i32": 9,
    "i64": 10,
}
_DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
F4E2M1FN = DTYPES["f4E2M1FN"]

# torch dtypes by name, so that a torch without one of them still imports.
_TORCH_DTYPES = {
    "torch.bfloat16": "bf16",
    "torch.float16": "f16",
    "torch.float32": "f32",
    "torch.float8_e4m3fn": "f8E4M3FN",
    "torch.float8_e8m0fnu": "f8E8M0FNU",
    "torch.float4_e2m1fn_x2": "f4E2M1FN",  # packed: two values per byte
    "torch.int8": "i8",
    "torch.uint8": "ui8",
    "torch.int32": "i32",
    "torch.int64": "i64",
}
# Byte-sized torch dtypes that hold packed f4E2M1FN pairs.
_PACKED_FP4 = {"torch.uint8", "torch.float4_e2m1fn_x2"}


class MoeRuntimeError(RuntimeError):
    """A failed runtime call; .status is the moeRtStatus, .status_name its
    name, and the message is moeRtGetLastError()'s."""

    def __init__(self, status, message):
        self.status = status
        self.status_name = STATUS.get(status, "unknown status %d" % status)
        super().__init__("%s: %s" % (self.status_name, message))


class MoeArgumentError(MoeRuntimeError, ValueError):
    """The arguments do not match the manifest; nothing was launched."""


#===-------------------------------------------------------------------===#
# The C structs
#===-------------------------------------------------------------------===#


class TensorArg(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_uint64),
        ("dtype", ctypes.c_int32),
        ("rank", ctypes.c_int32),
        ("device", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
        ("shape", ctypes.c_int64 * MAX_RANK),
        ("strides", ctypes.c_int64 * MAX_RANK),
    ]


class LaunchConfig(ctypes.Structure):
    _fields_ = [
        ("numTokens", ctypes.c_int64),
        ("workspace", ctypes.c_uint64),
        ("workspaceBytes", ctypes.c_uint64),
        ("scalars", ctypes.POINTER(ctypes.c_int64)),
        ("numScalars", ctypes.c_int32),
        ("maxSms", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
    ]


class KernelInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("arch", ctypes.c_char_p),
        ("compiler", ctypes.c_char_p),
        ("contentHash", ctypes.c_char_p),
        ("device", ctypes.c_int32),
        ("loaded", ctypes.c_int32),
        ("numTensors", ctypes.c_int32),
        ("numParams", ctypes.c_int32),
        ("numScalars", ctypes.c_int32),
        ("persistentGrid", ctypes.c_int32),
        ("grid", ctypes.c_uint32 * 3),
        ("block", ctypes.c_uint32 * 3),
        ("cluster", ctypes.c_uint32 * 3),
        ("dynamicSmemBytes", ctypes.c_uint32),
        ("workspaceBytes", ctypes.c_uint64),
        ("maxTokens", ctypes.c_int64),
        ("numSms", ctypes.c_int32),
        ("reserved", ctypes.c_int32),
    ]


class TensorInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("dtype", ctypes.c_int32),
        ("rank", ctypes.c_int32),
        ("shape", ctypes.c_int64 * MAX_RANK),
        ("alignment", ctypes.c_uint32),
        ("role", ctypes.c_int32),
    ]


class SymmetricInfo(ctypes.Structure):
    _fields_ = [
        ("numRanks", ctypes.c_int32),
        ("owned", ctypes.c_int32),
        ("bytes", ctypes.c_uint64),
        ("ptrs", ctypes.c_uint64 * MAX_RANKS),
        ("devices", ctypes.c_int32 * MAX_RANKS),
    ]


class WaitRecordData(ctypes.Structure):
    """moeRtWaitRecord: what a kernel writes when a wait times out."""
    _fields_ = [
        ("magic", ctypes.c_uint32),
        ("rank", ctypes.c_uint32),
        ("phase", ctypes.c_uint32),
        ("block", ctypes.c_uint32),
        ("counter", ctypes.c_uint64),
        ("value", ctypes.c_uint64),
        ("target", ctypes.c_uint64),
        ("elapsedNs", ctypes.c_uint64),
    ]


#===-------------------------------------------------------------------===#
# The library
#===-------------------------------------------------------------------===#

_lib = None
_ABI_VERSION = 1


def _candidates():
    env = os.environ.get("MOE_RUNTIME_LIB")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "libmoe_cuda_runtime.so")
    root = os.path.dirname(os.path.dirname(here))
    for pattern in ("build*/lib/libmoe_cuda_runtime.so",
                    "build*/libmoe_cuda_runtime.so",
                    "build*/*/libmoe_cuda_runtime.so"):
        for path in sorted(glob.glob(os.path.join(root, pattern))):
            yield path
    yield "libmoe_cuda_runtime.so"


def load_library(path=None):
    """Loads (once) and returns the runtime library."""
    global _lib
    if _lib is not None and path is None:
        return _lib
    errors = []
    lib = None
    for candidate in ([path] if path else _candidates()):
        if os.sep in candidate and not os.path.exists(candidate):
            errors.append("%s: no such file" % candidate)
            continue
        try:
            lib = ctypes.CDLL(candidate)
            break
        except OSError as e:
            errors.append(str(e))
    if lib is None:
        raise MoeRuntimeError(
            1, "cannot load libmoe_cuda_runtime.so (set MOE_RUNTIME_LIB): "
            + "; ".join(errors))
    c = ctypes
    sigs = {
        "moeRtGetLastError": (c.c_char_p, []),
        "moeRtStatusName": (c.c_char_p, [c.c_int32]),
        "moeRtDTypeName": (c.c_char_p, [c.c_int32]),
        "moeRtGetAbiVersion": (c.c_int32, []),
        "moeRtLoadArtifact": (c.c_int, [c.c_char_p, c.c_int32,
                                        c.POINTER(c.c_void_p)]),
        "moeRtLoadArtifactFromMemory": (c.c_int, [
            c.c_char_p, c.c_size_t, c.c_void_p, c.c_size_t, c.c_int32,
            c.POINTER(c.c_void_p)]),
        "moeRtKernelCreateUnloaded": (c.c_int, [
            c.c_char_p, c.c_size_t, c.c_int32, c.POINTER(c.c_void_p)]),
        "moeRtUnload": (c.c_int, [c.c_void_p]),
        "moeRtKernelGetInfo": (c.c_int, [c.c_void_p, c.POINTER(KernelInfo)]),
        "moeRtKernelGetTensorInfo": (c.c_int, [c.c_void_p, c.c_int32,
                                               c.POINTER(TensorInfo)]),
        "moeRtKernelSelect": (c.c_int, [c.c_void_p, c.c_int64,
                                        c.POINTER(c.c_char_p)]),
        "moeRtLaunchConfigInit": (None, [c.POINTER(LaunchConfig)]),
        "moeRtValidateArgs": (c.c_int, [
            c.c_void_p, c.POINTER(TensorArg), c.c_int32,
            c.POINTER(LaunchConfig), c.POINTER(c.c_int64)]),
        "moeRtLaunch": (c.c_int, [c.c_void_p, c.POINTER(TensorArg), c.c_int32,
                                  c.POINTER(LaunchConfig), c.c_void_p]),
        "moeRtCopyToDevice": (c.c_int, [c.c_int32, c.c_uint64, c.c_void_p,
                                        c.c_uint64]),
        "moeRtSymmetricCreate": (c.c_int, [
            c.POINTER(c.c_int32), c.c_int32, c.c_uint64,
            c.POINTER(c.c_void_p)]),
        "moeRtSymmetricFromPointers": (c.c_int, [
            c.POINTER(c.c_uint64), c.POINTER(c.c_int32), c.c_int32,
            c.c_uint64, c.POINTER(c.c_void_p)]),
        "moeRtSymmetricGetInfo": (c.c_int, [c.c_void_p,
                                            c.POINTER(SymmetricInfo)]),
        "moeRtSymmetricDestroy": (c.c_int, [c.c_void_p]),
        "moeRtWaitRecordCreate": (c.c_int, [
            c.POINTER(c.POINTER(WaitRecordData)), c.POINTER(c.c_uint64)]),
        "moeRtWaitRecordDestroy": (c.c_int, [c.POINTER(WaitRecordData)]),
        "moeRtWaitRecordDescribe": (c.c_int, [
            c.POINTER(WaitRecordData), c.POINTER(c.c_char_p), c.c_int32,
            c.c_char_p, c.c_uint64]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    version = lib.moeRtGetAbiVersion()
    if version != _ABI_VERSION:
        raise MoeRuntimeError(
            1, "libmoe_cuda_runtime.so has ABI version %d, this module "
            "expects %d" % (version, _ABI_VERSION))
    _lib = lib
    return lib


def _check(lib, status):
    if status == 0:
        return
    message = (lib.moeRtGetLastError() or b"").decode("utf-8", "replace")
    cls = MoeArgumentError if status in _ARGUMENT_ERRORS else MoeRuntimeError
    raise cls(status, message)


#===-------------------------------------------------------------------===#
# Tensors
#===-------------------------------------------------------------------===#


def _device_ordinal(t):
    # A CUDA torch tensor answers get_device() without building a
    # torch.device (a launch describes every tensor argument).
    if getattr(t, "is_cuda", None) is True:
        return t.get_device()
    dev = getattr(t, "device", None)
    if dev is not None and getattr(dev, "type", None) == "cuda":
        return dev.index if dev.index is not None else 0
    return DEVICE_HOST


def describe_tensor(t, expected_dtype=None):
    """A TensorArg for a torch tensor (or anything with data_ptr(), dtype,
    shape, stride() and device). `expected_dtype` (a moeRtDType) lets a
    byte tensor stand for packed f4E2M1FN."""
    a = TensorArg()
    dtype_name = str(t.dtype)
    shape = [int(s) for s in t.shape]
    strides = [int(s) for s in t.stride()]
    if len(shape) > MAX_RANK:
        raise MoeArgumentError(
            12, "a tensor of rank %d exceeds the runtime's maximum rank %d"
            % (len(shape), MAX_RANK))
    if expected_dtype == F4E2M1FN and dtype_name in _PACKED_FP4:
        # Bytes of packed pairs -> 4-bit elements: the innermost dim doubles
        # and every stride counts 4-bit elements (contiguous stays 1).
        a.dtype = F4E2M1FN
        if shape:
            shape[-1] *= 2
            strides = [s * 2 for s in strides[:-1]] + [
                1 if strides[-1] == 1 else strides[-1] * 2]
    else:
        a.dtype = DTYPES.get(_TORCH_DTYPES.get(dtype_name, ""), 0)
    a.data = int(t.data_ptr())
    a.rank = len(shape)
    a.device = _device_ordinal(t)
    for i, (s, st) in enumerate(zip(shape, strides)):
        a.shape[i] = s
        a.strides[i] = st
    return a


#===-------------------------------------------------------------------===#
# Kernels
#===-------------------------------------------------------------------===#


class _Closing:
    """close() when garbage-collected (errors ignored) or when a `with`
    block ends."""

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Kernel(_Closing):
    """A compiled kernel loaded onto one device (or, from unloaded(), its
    manifest alone: validate() works, launch() does not)."""

    def __init__(self, handle, lib):
        self._handle = ctypes.c_void_p(handle)
        self._lib = lib
        self._workspace = None
        info = KernelInfo()
        _check(lib, lib.moeRtKernelGetInfo(self._handle, ctypes.byref(info)))
        self.name = info.name.decode()
        self.arch = info.arch.decode()
        self.compiler = info.compiler.decode()
        self.content_hash = info.contentHash.decode()
        self.device = info.device
        self.loaded = bool(info.loaded)
        self.persistent_grid = bool(info.persistentGrid)
        self.grid = tuple(info.grid)
        self.block = tuple(info.block)
        self.cluster = tuple(info.cluster)
        self.dynamic_smem_bytes = info.dynamicSmemBytes
        self.workspace_bytes = info.workspaceBytes
        self.max_tokens = None if info.maxTokens < 0 else info.maxTokens
        self.num_scalars = info.numScalars
        self.num_sms = info.numSms
        self.tensors = []
        for i in range(info.numTensors):
            ti = TensorInfo()
            _check(lib, lib.moeRtKernelGetTensorInfo(self._handle, i,
                                                     ctypes.byref(ti)))
            self.tensors.append({
                "name": ti.name.decode(),
                "dtype": _DTYPE_NAMES.get(ti.dtype, "invalid"),
                "dtype_id": ti.dtype,
                "shape": ["T" if d == DIM_T else d
                          for d in ti.shape[:ti.rank]],
                "alignment": ti.alignment,
                "role": ("input", "output", "inout")[ti.role],
            })
        self._index = {t["name"]: i for i, t in enumerate(self.tensors)}
        # The last launch's tensor arguments: (key, TensorArg array).
        self._described = (None, None)

    # -- construction ----------------------------------------------------

    @classmethod
    def load(cls, directory, device=None, library=None):
        """Loads `directory`/manifest.json and its cubin onto `device` (an
        ordinal or torch.device; default: torch's current device, or 0)."""
        lib = load_library(library)
        handle = ctypes.c_void_p()
        _check(lib, lib.moeRtLoadArtifact(os.fsencode(directory),
                                          _ordinal(device),
                                          ctypes.byref(handle)))
        return cls(handle.value, lib)

    @classmethod
    def from_memory(cls, manifest, image, device=None, library=None):
        """Loads from a manifest (JSON text, bytes or dict) and a cubin
        image (bytes)."""
        lib = load_library(library)
        text = _manifest_bytes(manifest)
        image = bytes(image)
        handle = ctypes.c_void_p()
        _check(lib, lib.moeRtLoadArtifactFromMemory(
            text, len(text), image, len(image), _ordinal(device),
            ctypes.byref(handle)))
        return cls(handle.value, lib)

    @classmethod
    def unloaded(cls, manifest, device=0, library=None):
        """The manifest alone, for `device`: needs no GPU."""
        lib = load_library(library)
        text = _manifest_bytes(manifest)
        handle = ctypes.c_void_p()
        _check(lib, lib.moeRtKernelCreateUnloaded(text, len(text), device,
                                                  ctypes.byref(handle)))
        return cls(handle.value, lib)

    def close(self):
        if self._handle is not None and self._handle.value:
            handle, self._handle = self._handle, None
            _check(self._lib, self._lib.moeRtUnload(handle))
        self._handle = None


    def __repr__(self):
        return "<moe_runtime.Kernel %s (%s) on device %d%s>" % (
            self.name, self.arch, self.device,
            "" if self.loaded else ", unloaded")

    def select(self, num_tokens):
        """The kernel (the manifest's, or a variant's) that a launch with
        `num_tokens` tokens runs."""
        name = ctypes.c_char_p()
        _check(self._lib, self._lib.moeRtKernelSelect(
            self._handle, int(num_tokens), ctypes.byref(name)))
        return name.value.decode()

    # -- calls -----------------------------------------------------------

    def _args(self, tensors, named):
        if len(tensors) > len(self.tensors):
            raise MoeArgumentError(
                10, "kernel '%s' takes %d tensor arguments (%s), got %d"
                % (self.name, len(self.tensors),
                   ", ".join(t["name"] for t in self.tensors), len(tensors)))
        ordered = list(tensors) + [None] * (len(self.tensors) - len(tensors))
        for name, t in named.items():
            if name not in self._index:
                raise MoeArgumentError(
                    10, "kernel '%s' has no tensor argument '%s' (it takes "
                    "%s)" % (self.name, name,
                             ", ".join(x["name"] for x in self.tensors)))
            i = self._index[name]
            if ordered[i] is not None:
                raise MoeArgumentError(
                    10, "tensor argument '%s' given twice" % name)
            ordered[i] = t
        missing = [self.tensors[i]["name"] for i, t in enumerate(ordered)
                   if t is None]
        if missing:
            raise MoeArgumentError(
                10, "kernel '%s': missing tensor arguments: %s"
                % (self.name, ", ".join(missing)))
        # What describe_tensor() reads of each tensor: the same key, the
        # same TensorArgs (a decode loop passes the same tensors each step;
        # describing them is most of the launch's host time).
        key = tuple((t.data_ptr(), tuple(t.shape), tuple(t.stride()),
                     t.dtype, _device_ordinal(t)) for t in ordered)
        last_key, array = self._described
        if key != last_key:
            array = (TensorArg * max(1, len(ordered)))()
            for i, t in enumerate(ordered):
                array[i] = describe_tensor(t, self.tensors[i]["dtype_id"])
            self._described = (key, array)
        return array, len(ordered), ordered

    def _config(self, num_tokens, workspace, scalars, max_sms, flags):
        cfg = LaunchConfig()
        self._lib.moeRtLaunchConfigInit(ctypes.byref(cfg))
        if num_tokens is not None:
            cfg.numTokens = int(num_tokens)
        if workspace is not None:
            if hasattr(workspace, "data_ptr"):
                cfg.workspace = int(workspace.data_ptr())
                cfg.workspaceBytes = int(workspace.numel() *
                                         workspace.element_size())
            else:
                cfg.workspace, cfg.workspaceBytes = (int(x) for x in workspace)
        values = (ctypes.c_int64 * max(1, len(scalars)))(
            *[int(s) for s in scalars])
        cfg.scalars = values
        cfg.numScalars = len(scalars)
        cfg.maxSms = int(max_sms)
        cfg.flags = flags
        return cfg, values

    def validate(self, *tensors, num_tokens=None, workspace=None, scalars=(),
                 max_sms=0, **named):
        """Checks the arguments without launching; returns T."""
        array, n, _ = self._args(tensors, named)
        cfg, _keep = self._config(num_tokens, workspace, scalars, max_sms, 0)
        if workspace is None and self.workspace_bytes:
            # launch() would supply its own workspace: stand in for it.
            cfg.workspace, cfg.workspaceBytes = 256, self.workspace_bytes
        T = ctypes.c_int64()
        _check(self._lib, self._lib.moeRtValidateArgs(
            self._handle, array, n, ctypes.byref(cfg), ctypes.byref(T)))
        return T.value

    def launch(self, *tensors, stream=None, num_tokens=None, workspace=None,
               scalars=(), max_sms=0, pdl=False, check_pointers=False,
               **named):
        """Validates and launches on `stream` (a torch.cuda.Stream, a raw
        CUstream as int, or None for torch's current stream on the kernel's
        device). Asynchronous, like any kernel launch; T = 0 launches
        nothing.

        If the kernel needs a workspace and none is given, one is allocated
        on first use (torch.zeros) and reused by every launch of this Kernel:
        pass your own for concurrent launches on several streams.

        The tensors' descriptions for the runtime are kept from the last
        launch and reused while every tensor has the same pointer, shape,
        strides, dtype and device (a decode loop over the same buffers
        pays the description once)."""
        if self._handle is None:
            raise MoeRuntimeError(1, "kernel '%s' is closed" % self.name)
        array, n, ordered = self._args(tensors, named)
        if workspace is None and self.workspace_bytes:
            workspace = self._default_workspace()
        flags = (LAUNCH_PDL if pdl else 0) | (
            LAUNCH_CHECK_POINTERS if check_pointers else 0)
        cfg, _keep = self._config(num_tokens, workspace, scalars, max_sms,
                                  flags)
        _check(self._lib, self._lib.moeRtLaunch(
            self._handle, array, n, ctypes.byref(cfg),
            ctypes.c_void_p(self._stream_handle(stream))))
        del ordered  # the tensors had to live until the launch was queued

    __call__ = launch

    def _stream_handle(self, stream):
        if stream is None:
            if not self.loaded:
                return 0
            import torch
            return torch.cuda.current_stream(self.device).cuda_stream
        if isinstance(stream, int):
            return stream
        return stream.cuda_stream

    def _default_workspace(self):
        if self._workspace is None:
            import torch
            self._workspace = torch.zeros(
                self.workspace_bytes, dtype=torch.uint8,
                device="cuda:%d" % self.device)
        return self._workspace


#===-------------------------------------------------------------------===#
# Expert parallelism: symmetric buffers and wait records
#===-------------------------------------------------------------------===#


class Symmetric(_Closing):
    """A buffer of `bytes` bytes per rank, rank r's on GPU devices[r], each
    mapped on every rank's GPU: a kernel on any of them reads and writes
    rank r's buffer at ptrs[r] (a device address). The runtime's buffers
    (create) are zeroed and freed by close(); those of from_pointers belong
    to whoever mapped them."""

    def __init__(self, handle, lib):
        self._handle = ctypes.c_void_p(handle)
        self._lib = lib
        info = SymmetricInfo()
        _check(lib, lib.moeRtSymmetricGetInfo(self._handle,
                                              ctypes.byref(info)))
        n = info.numRanks
        self.num_ranks = n
        self.owned = bool(info.owned)
        self.bytes = info.bytes
        self.ptrs = tuple(int(p) for p in info.ptrs[:n])
        self.devices = tuple(int(d) for d in info.devices[:n])

    @classmethod
    def create(cls, devices, bytes, library=None):
        """Allocates on each of `devices` (ordinals, one rank each, in rank
        order) with the driver's virtual memory management and maps every
        buffer on every device (one process driving several GPUs)."""
        lib = load_library(library)
        devs = [_ordinal(d) for d in devices]
        array = (ctypes.c_int32 * max(1, len(devs)))(*devs)
        handle = ctypes.c_void_p()
        _check(lib, lib.moeRtSymmetricCreate(array, len(devs), int(bytes),
                                             ctypes.byref(handle)))
        return cls(handle.value, lib)

    @classmethod
    def from_pointers(cls, ptrs, devices, bytes, library=None):
        """Describes buffers that another engine mapped: ptrs[r] on
        devices[r] (e.g. torch.distributed._symmetric_memory's
        rendezvous(...).buffer_ptrs). Allocates and frees nothing; needs no
        GPU."""
        lib = load_library(library)
        ptrs = [int(p) for p in ptrs]
        devs = [_ordinal(d) for d in devices]
        if len(ptrs) != len(devs):
            raise MoeRuntimeError(
                1, "%d pointers for %d devices" % (len(ptrs), len(devs)))
        p_array = (ctypes.c_uint64 * max(1, len(ptrs)))(*ptrs)
        d_array = (ctypes.c_int32 * max(1, len(devs)))(*devs)
        handle = ctypes.c_void_p()
        _check(lib, lib.moeRtSymmetricFromPointers(
            p_array, d_array, len(devs), int(bytes), ctypes.byref(handle)))
        return cls(handle.value, lib)

    def close(self):
        """Frees the handle (and the buffers if the runtime allocated them,
        after the work on their devices is done)."""
        if self._handle is not None and self._handle.value:
            handle, self._handle = self._handle, None
            _check(self._lib, self._lib.moeRtSymmetricDestroy(handle))
        self._handle = None


    def __repr__(self):
        return "<moe_runtime.Symmetric %d rank%s on devices %s, %d bytes%s>" % (
            self.num_ranks, "" if self.num_ranks == 1 else "s",
            list(self.devices), self.bytes,
            "" if self.owned else ", not owned")


def describe_wait_record(record, phase_names=(), library=None):
    """What a WaitRecordData says ("" if no kernel wrote it), e.g. "rank 1
    timed out in phase 2 ('dispatch: counts') after 30.0 s: counter
    0x7f... = 3, waited for >= 4 (block 17)". phase_names[i] names phase i.
    Needs no GPU."""
    return _describe_wait_record(load_library(library), record, phase_names)


def _describe_wait_record(lib, record, phase_names):
    names = [n if isinstance(n, bytes) else str(n).encode("utf-8")
             for n in phase_names]
    array = (ctypes.c_char_p * max(1, len(names)))(*names)
    message = ctypes.create_string_buffer(1024)
    _check(lib, lib.moeRtWaitRecordDescribe(
        ctypes.byref(record), array, len(names), message, len(message)))
    return message.value.decode("utf-8", "replace")


class WaitRecord(_Closing):
    """A moeRtWaitRecord in pinned host memory mapped into every device:
    pass .device_ptr to a kernel that waits on another GPU; if its wait
    times out it fills the record and traps, and describe() says what it
    waited for (readable after the trap, without the driver)."""

    def __init__(self, record, device_ptr, lib):
        self._record = record  # ctypes.POINTER(WaitRecordData)
        self._lib = lib
        self.device_ptr = int(device_ptr)

    @classmethod
    def create(cls, library=None):
        """A zero-filled record, allocated in the primary context of the
        current device (torch's, if torch made one current; else 0)."""
        lib = load_library(library)
        record = ctypes.POINTER(WaitRecordData)()
        device_ptr = ctypes.c_uint64()
        _check(lib, lib.moeRtWaitRecordCreate(ctypes.byref(record),
                                              ctypes.byref(device_ptr)))
        return cls(record, device_ptr.value, lib)

    @property
    def record(self):
        """A copy of the record's fields (a WaitRecordData: .magic, .rank,
        .phase, .block, .counter, .value, .target, .elapsedNs)."""
        self._require_open()
        copy = WaitRecordData()
        ctypes.memmove(ctypes.byref(copy), self._record,
                       ctypes.sizeof(WaitRecordData))
        return copy

    @property
    def written(self):
        """True once a kernel wrote the record."""
        self._require_open()
        return self._record.contents.magic == WAIT_RECORD_MAGIC

    def describe(self, phase_names=()):
        """The record as a sentence, or "" if no kernel wrote it."""
        self._require_open()
        return _describe_wait_record(self._lib, self._record.contents,
                                     phase_names)

    def _require_open(self):
        if self._record is None:
            raise MoeRuntimeError(1, "the wait record is closed")

    def close(self):
        if self._record is not None:
            record, self._record = self._record, None
            _check(self._lib, self._lib.moeRtWaitRecordDestroy(record))


    def __repr__(self):
        return "<moe_runtime.WaitRecord at device address 0x%x%s>" % (
            self.device_ptr,
            "" if self._record is None else
            (", written" if self.written else ""))


def _ordinal(device):
    if device is None:
        try:
            import torch
            if torch.cuda.is_available():
                return torch.cuda.current_device()
        except ImportError:
            pass
        return 0
    if isinstance(device, int):
        return device
    index = getattr(device, "index", None)
    if index is not None:
        return index
    if isinstance(device, str) and device.startswith("cuda:"):
        return int(device.split(":", 1)[1])
    return 0


def _manifest_bytes(manifest):
    if isinstance(manifest, dict):
        manifest = json.dumps(manifest)
    if isinstance(manifest, str):
        manifest = manifest.encode("utf-8")
    return bytes(manifest)
