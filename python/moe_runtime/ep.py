"""Expert-parallel fused MoE kernels from Python (docs/ExpertParallel.md).

An artifact compiled from a layer's per-rank form (moe-opt
--moe-expert-parallel, or make_fused_moe.py's `epR` cases) runs once on
every rank, each with its own tokens and its experts' weights; the ranks
exchange rows through symmetric buffers. This module sets that up:

    from moe_runtime.ep import ExpertParallelLayer
    layer = ExpertParallelLayer(artifact_dir, devices=[0, 1])   # R = 2 GPUs
    layer.launch([(x0, ids0, w0, w13_0, w2_0, out0),            # rank 0
                  (x1, ids1, w1, w13_1, w2_1, out1)])           # rank 1

One process per GPU (torch.distributed): each process wraps its rank with
the buffers of torch's symmetric memory, whose rendezvous maps every
rank's buffer into every process:

    buf = symm_mem.empty(layer_bytes, dtype=torch.uint8, device=dev)
    handle = symm_mem.rendezvous(buf, group)
    layer = ExpertParallelLayer.for_rank(artifact_dir, rank, handle.buffer_ptrs)
    layer.launch_rank(x, ids, w, w13, w2, out)

`workspace_bytes(artifact_dir)` is the buffer size each rank needs. Every
rank must launch the same number of times (a launch is collective); each
launch's epoch makes the counters monotonic, so nothing is reset between
launches. A rank that does not come makes the others' waits expire after
`timeout_s`: their launch fails (the kernel traps) and `timeout_message()`
says which rank waited in which phase for what.
"""

import ctypes
import json
import os

from . import (Kernel, MoeRuntimeError, Symmetric, WaitRecord, _Closing,
               load_library)

__all__ = ["ExpertParallelLayer", "PHASES", "check_agreement", "config", "symmetric_workspace", "torchrun_init",
           "disagreements", "workspace_bytes"]

# The phases of the kernel's bounded waits (moek.ep_dispatch: 1, 2; the
# combine: 3; with convert-moe-to-moek{dispatch-readiness}, GEMM1's producer
# waiting for a source rank's rows of an expert: 4).
PHASES = ("", "dispatch: counts", "dispatch: rows", "combine: results",
          "GEMM1: a source's rows")

_ALIGN = 2 << 20  # each rank's share: whole 2 MiB pages


def _manifest(artifact):
    with open(os.path.join(artifact, "manifest.json")) as f:
        m = json.load(f)
    if "expert_parallel" not in m:
        raise ValueError("%s is not an expert-parallel artifact (its manifest "
                         "has no expert_parallel; compile the layer with "
                         "moe-expert-parallel)" % artifact)
    return m


def config(artifact):
    """What every rank's artifact must agree on: the layer's numbers and
    precision, the ranks and the capacity (max_tokens), the workspace, and
    the kernel's content hash."""
    m = _manifest(artifact)
    tensors = ["%s %s%s" % (t.get("name"), t.get("dtype"), t.get("shape"))
               for t in m.get("tensors", [])]
    return dict(kernel=m["kernel"], content_hash=m.get("content_hash"),
                ranks=m["expert_parallel"]["ranks"],
                experts_per_rank=m["expert_parallel"]["experts_per_rank"],
                tensors=tensors, max_tokens=m.get("max_tokens"),
                workspace_bytes=m["workspace_bytes"])


def disagreements(configs):
    """What configs[r] (config() of rank r) differ in from rank 0's, as
    sentences; [] if they all agree."""
    problems = []
    for r, c in enumerate(configs):
        for key in sorted(configs[0]):
            if c.get(key) != configs[0].get(key):
                problems.append("rank %d has %s = %r, rank 0 has %r"
                                % (r, key, c.get(key), configs[0].get(key)))
    return problems


def check_agreement(mine, rank, group):
    """Gathers every rank's config() over `group` (torch.distributed) and
    raises ValueError on every rank if any differs from rank 0's."""
    import torch.distributed as dist
    configs = [None] * dist.get_world_size(group)
    dist.all_gather_object(configs, mine, group=group)
    problems = disagreements(configs)
    if problems:
        raise ValueError("expert-parallel ranks disagree on their layer (seen "
                         "by rank %d): %s" % (rank, "; ".join(problems)))


def workspace_bytes(artifact):
    """The bytes of symmetric buffer one rank of `artifact` needs."""
    m = _manifest(artifact)
    return (m["workspace_bytes"] + _ALIGN - 1) // _ALIGN * _ALIGN


def torchrun_init(library):
    """In a process torchrun started: this rank's GPU (device RANK), the
    NCCL process group and the runtime library `library`. Returns (rank,
    world size, torch device)."""
    import torch
    import torch.distributed as dist
    from . import load_library
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    torch.cuda.set_device(rank)
    dev = torch.device("cuda", rank)
    dist.init_process_group("nccl", device_id=dev)
    load_library(library)
    return rank, world, dev


def symmetric_workspace(artifact, device, group):
    """A zeroed torch symmetric-memory buffer of workspace_bytes(artifact)
    on `device`, rendezvoused over `group`: the buffer and the handle whose
    buffer_ptrs ExpertParallelLayer.for_rank takes."""
    import torch
    import torch.distributed._symmetric_memory as symm_mem
    buf = symm_mem.empty(workspace_bytes(artifact), dtype=torch.uint8,
                         device=device)
    buf.zero_()
    torch.cuda.synchronize()
    return buf, symm_mem.rendezvous(buf, group)


class ExpertParallelLayer(_Closing):
    """The ranks of one expert-parallel artifact driven from this process.

    `devices[r]` is rank r's GPU (default: 0 .. R-1). A device listed more
    than once runs several ranks as concurrent kernels, each with SMs / n
    CTAs so that all of them are resident (a test mode for one GPU)."""

    def _setup(self, artifact, timeout_s, library):
        """What every layer reads from its artifact, before its buffers."""
        self._lib = load_library(library)
        ep = _manifest(artifact)["expert_parallel"]
        self.ranks = int(ep["ranks"])
        self.experts_per_rank = int(ep["experts_per_rank"])
        self.bases_offset = int(ep["bases_offset"])
        self.timeout_s = float(timeout_s)
        self.bytes = workspace_bytes(artifact)
        self.epoch = 0

    def __init__(self, artifact, devices=None, timeout_s=30.0, library=None):
        self._setup(artifact, timeout_s, library)
        R = self.ranks
        self.devices = list(devices) if devices is not None else list(
            range(R))
        if len(self.devices) != R:
            raise ValueError("the artifact has %d ranks, %d devices given"
                             % (R, len(self.devices)))
        self.kernels = [Kernel.load(artifact, device=d, library=library)
                        for d in self.devices]
        per_device = {d: self.devices.count(d) for d in self.devices}
        if len(per_device) == R:
            self.symmetric = Symmetric.create(self.devices, self.bytes,
                                              library=library)
            self.ptrs = list(self.symmetric.ptrs)
            self.max_sms = [0] * R
        else:
            # Ranks sharing a GPU: slices of one allocation per GPU.
            if len(per_device) != 1:
                raise ValueError("ranks share GPUs unevenly: %s"
                                 % self.devices)
            d = self.devices[0]
            self.symmetric = Symmetric.create([d], R * self.bytes,
                                              library=library)
            self.ptrs = [self.symmetric.ptrs[0] + r * self.bytes
                         for r in range(R)]
            sms = self.kernels[0].num_sms // R
            self.max_sms = [sms] * R
        for r, d in enumerate(self.devices):
            self._write_bases(d, self.ptrs[r], self.ptrs)
        self.wait = WaitRecord.create(library=library)
        self.rank = None

    @classmethod
    def for_rank(cls, artifact, rank, ptrs, device=None, timeout_s=30.0,
                 library=None, group=None):
        """Rank `rank` alone, in a process of its own: `ptrs[r]` is rank
        r's symmetric buffer as mapped in this process (e.g. torch's
        rendezvous(...).buffer_ptrs), each of workspace_bytes(artifact).
        With `group` (a torch.distributed process group of the ranks), the
        ranks compare their layers first (config()) and all raise
        ValueError, naming what differs, if they do not agree."""
        if group is not None:
            check_agreement(config(artifact), rank, group)
        self = cls.__new__(cls)
        self._setup(artifact, timeout_s, library)
        if len(ptrs) != self.ranks or not 0 <= rank < self.ranks:
            raise ValueError("rank %d with %d buffers for an artifact of %d "
                             "ranks" % (rank, len(ptrs), self.ranks))
        self.rank = rank
        device = rank if device is None else device
        self.devices = [device]
        self.kernels = [Kernel.load(artifact, device=device, library=library)]
        self.symmetric = None
        self.ptrs = [int(p) for p in ptrs]
        self.max_sms = [0]
        self._write_bases(device, self.ptrs[rank], self.ptrs)
        self.wait = WaitRecord.create(library=library)
        return self

    def _write_bases(self, device, workspace, ptrs):
        table = (ctypes.c_uint64 * 8)(*(list(ptrs) + [0] * (8 - len(ptrs))))
        status = self._lib.moeRtCopyToDevice(
            device, workspace + self.bases_offset, ctypes.byref(table),
            ctypes.sizeof(table))
        if status:
            raise MoeRuntimeError(status, (self._lib.moeRtGetLastError() or
                                           b"").decode())

    def _launch(self, index, rank, tensors, stream):
        self.kernels[index].launch(
            *tensors, stream=stream,
            workspace=(self.ptrs[rank], self.bytes),
            scalars=(rank, self.epoch, int(self.timeout_s * 1e9),
                     self.wait.device_ptr),
            max_sms=self.max_sms[index])

    def launch(self, per_rank, streams=None, only=None):
        """One launch of every rank (asynchronous): per_rank[r] = (x, ids,
        weights, w13, w2[, w13_scales, w2_scales], out) of rank r, its
        tensors on devices[r]; streams[r] (default: the current stream of
        devices[r], or a stream per rank when ranks share a GPU, which they
        must to run at once). `only`: launch these ranks alone (the others
        never come: a test of the timeout)."""
        if self.rank is not None:
            raise RuntimeError("a for_rank() layer launches with launch_rank")
        if len(per_rank) != self.ranks:
            raise ValueError("%d ranks, %d argument lists" % (
                self.ranks, len(per_rank)))
        if streams is None and len(set(self.devices)) < self.ranks:
            streams = self._own_streams()
        self.epoch += 1
        for r in range(self.ranks) if only is None else only:
            self._launch(r, r, per_rank[r],
                         None if streams is None else streams[r])

    def launch_rank(self, *tensors, stream=None):
        """This process's rank (for_rank): one launch, asynchronous."""
        if self.rank is None:
            raise RuntimeError("launch_rank is for for_rank() layers")
        self.epoch += 1
        self._launch(0, self.rank, tensors, stream)

    def _own_streams(self):
        if not hasattr(self, "_streams"):
            import torch
            self._streams = [torch.cuda.Stream(device=d)
                             for d in self.devices]
        return self._streams

    def timeout_message(self):
        """'' unless a wait of a launch expired; then which rank waited in
        which phase for what (readable after the failed launch)."""
        return self.wait.describe(PHASES)

    def close(self):
        for k in self.kernels:
            k.close()
        if self.symmetric is not None:
            self.symmetric.close()
        self.wait.close()
