# A stand-in for vLLM's fused_moe.py (test/Tools/fetch-peers.test): the two
# functions bench/fetch_peers.py cuts out, between others it must leave.
from vllm.triton_utils import tl, triton


def helper_before():
    return 1


@triton.jit
def write_zeros_to_output(c_ptr, N):
    tl.store(c_ptr, 0)  # zeros


@triton.jit
def fused_moe_kernel(
    a_ptr,
    N,
    BLOCK: tl.constexpr,
):
    # body line kept
    write_zeros_to_output(a_ptr, N)


def invoke_fused_moe_kernel():
    return 2
