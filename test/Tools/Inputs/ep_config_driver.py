"""Drives moe_runtime.ep's set-up checks for test/Tools/python-ep.test
(no GPU, no torch): ep_config_driver.py BF16_EP2 FP8_EP2 SINGLE_GPU"""

import sys

from moe_runtime import ep

bf16, fp8, single = sys.argv[1:4]
a, b = ep.config(bf16), ep.config(fp8)
print("ranks:", a["ranks"], "experts_per_rank:", a["experts_per_rank"],
      "max_tokens:", a["max_tokens"])
print("bytes: multiple of 2 MiB:", ep.workspace_bytes(bf16) % (2 << 20) == 0,
      ">= the manifest's:", ep.workspace_bytes(bf16) >= a["workspace_bytes"])
print("same layers:", ep.disagreements([a, dict(a)]))
for line in ep.disagreements([a, b]):
    print("disagree:", line.split(" = ")[0])
try:
    ep.config(single)
    print("single-GPU artifact: accepted")
except ValueError as e:
    print("single-GPU artifact:", str(e).split(" (")[0].split("/")[-1])
