"""Generates views.bin (torch.save of a state_dict exercising storage
offsets, strides, shared storages and every storage dtype) and
views.safetensors (the same tensors made contiguous, written with a minimal
spec-following writer) as the reference. Run with Debian's python3-torch:
    /usr/bin/python3 gen.py
"""
import json, struct
from collections import OrderedDict
import torch

torch.manual_seed(0)
base = torch.randn(6, 5)
shared = torch.randn(7)
sd = OrderedDict()
sd["f32.contiguous"] = torch.randn(3, 4)
sd["f32.transposed"] = base.t()                 # strides (1, 5)
sd["f32.rows"] = base[2:5]                      # storage offset 10
sd["f32.strided"] = base[1::2, ::2]             # offset 5, strides (10, 2)
sd["f32.column"] = base[:, 3]                   # offset 3, stride 5
sd["tied.a"] = shared                           # one storage, two keys
sd["tied.b"] = shared
sd["tied.view"] = shared[2:6].view(2, 2)        # offset 2 into the shared storage
sd["f64"] = torch.randn(2, 3, dtype=torch.float64)
sd["f16"] = torch.randn(4).half()
sd["bf16"] = torch.randn(2, 2).bfloat16().t()
sd["i64"] = torch.tensor([[0, -1, 2**40]])
sd["i32"] = torch.tensor([7, -8], dtype=torch.int32)
sd["i16"] = torch.tensor([300, -300], dtype=torch.int16)
sd["i8"] = torch.tensor([-5, 6], dtype=torch.int8)
sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
sd["bool"] = torch.tensor([True, False, True])
sd["scalar"] = torch.tensor(2.5)
sd["empty"] = torch.zeros(0, 3)
torch.save(sd, "views.bin")

names = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
         torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
         torch.uint8: "U8", torch.bool: "BOOL"}
header, data = {"__metadata__": {"format": "pt"}}, b""
for k in sorted(sd):
    t = sd[k].contiguous()
    raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
    header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
with open("views.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + data)
