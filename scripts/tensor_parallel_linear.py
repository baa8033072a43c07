"""One nn.Linear split across processes: tensor parallelism by hand and with DTensor.

Notebook 09, section 7, runs this script with ``torchrun`` and reads back the JSON it writes.
Run it yourself on one machine (2 processes, gloo, CPU)::

    torchrun --standalone --nproc-per-node=2 scripts/tensor_parallel_linear.py --out tp.json

and on several machines as the README says (``--nnodes``, ``--backend nccl`` on GPUs).

Every process builds the same full layers from the same seed (a real model would load them from
one checkpoint), keeps only its shard, and runs four experiments, checking forward outputs and
gradients against the single-process layers (``torch.testing.assert_close``: a mismatch fails
the run):

- ``column``:   Y = X Wᵀ + b with W split by output rows; the outputs are all-gathered.
- ``row``:      W split by input columns; the partial products are summed with an all-reduce.
- ``megatron``: column-parallel Linear → GELU → row-parallel Linear: one all-reduce per forward.
- ``dtensor``:  the same MLP through ``parallelize_module`` with ``ColwiseParallel`` and
  ``RowwiseParallel`` on a 1-D device mesh.

For each one it records the largest difference to the single-process result, how many
collectives ran, and the bytes each process sent during the forward (and backward) pass,
read from the kernel's TCP counters of the process's own sockets (Linux, gloo only; ``null``
elsewhere). Rank 0 writes everything to ``--out`` as JSON. Needs only PyTorch.
"""

from __future__ import annotations

import argparse
import collections
import copy
import faulthandler
import json
import os
import socket
import struct
import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.tensor import DTensor
from torch.distributed.tensor.debug import CommDebugMode
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

#: Collectives run by the hand-written layers, counted by name (reset per experiment).
CALLS: collections.Counter[str] = collections.Counter()

#: Bytes are counted for gloo only: NCCL moves tensors over NVLink/InfiniBand, not our sockets.
COUNT_BYTES = {"on": True}

#: Offsets of ``tcpi_bytes_sent`` and ``tcpi_bytes_retrans`` in Linux's ``struct tcp_info``
#: (kernel >= 4.19), and how much of the struct to ask for.
_TCPI_BYTES_SENT, _TCPI_BYTES_RETRANS = 200, 208
_TCP_INFO_SIZE = 232


def bytes_sent() -> int | None:
    """Payload bytes this process has sent on all its TCP sockets so far (Linux), else None.

    gloo moves tensors over TCP sockets owned by the process, so the difference of two calls
    is what the process sent in between (plus gloo's small message headers). Retransmitted
    bytes are left out: on a busy machine TCP sometimes sends a segment twice (a tail-loss
    probe when an acknowledgement is late), which is not data the algorithm asked to send.
    """
    if (
        not COUNT_BYTES["on"]
        or not hasattr(socket, "TCP_INFO")
        or not os.path.isdir("/proc/self/fd")
    ):
        return None
    total = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                continue
            sock = socket.socket(fileno=os.dup(int(fd)))
        except OSError:  # the fd closed meanwhile, or is not a socket we may open
            continue
        with sock:
            if sock.type != socket.SOCK_STREAM or sock.family not in (
                socket.AF_INET,
                socket.AF_INET6,
            ):
                continue
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
            if len(info) < _TCPI_BYTES_RETRANS + 8:
                return None  # kernel too old to report it
            sent, retransmitted = struct.unpack_from("QQ", info, _TCPI_BYTES_SENT)
            total += sent - retransmitted
    return total


def sent_since(start: int | None) -> int | None:
    now = bytes_sent()
    return None if start is None or now is None else now - start


# --- Megatron's communication operators, as autograd functions --------------------------------


class CopyToParallel(torch.autograd.Function):
    """Megatron's f: identity forward; backward sums the input gradient over processes."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        CALLS["all_reduce"] += 1
        dist.all_reduce(grad)  # each process holds only its shard's part of ∂L/∂X
        return grad


class ReduceFromParallel(torch.autograd.Function):
    """Megatron's g: forward sums the partial outputs over processes; identity backward."""

    @staticmethod
    def forward(ctx, partial: torch.Tensor) -> torch.Tensor:
        total = partial.clone()
        CALLS["all_reduce"] += 1
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad  # ∂(Σ_r Z_r)/∂Z_r = I


class GatherFromParallel(torch.autograd.Function):
    """Forward concatenates every process's output columns; backward keeps our own columns."""

    @staticmethod
    def forward(ctx, local: torch.Tensor) -> torch.Tensor:
        local = local.contiguous()
        parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
        CALLS["all_gather"] += 1
        dist.all_gather(parts, local)
        ctx.width = local.shape[-1]
        return torch.cat(parts, dim=-1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        start = dist.get_rank() * ctx.width
        return grad[..., start : start + ctx.width]


def column_parallel_linear(x: torch.Tensor, w_rows: torch.Tensor, b_rows: torch.Tensor):
    """Y = [X W₁ᵀ + b₁, …, X W_Pᵀ + b_P]: this process computes its block of output columns."""
    return GatherFromParallel.apply(F.linear(CopyToParallel.apply(x), w_rows, b_rows))


def row_parallel_linear(x_cols: torch.Tensor, w_cols: torch.Tensor, b: torch.Tensor):
    """Y = Σ_r X_r W_rᵀ + b: this process multiplies its input columns by its weight columns."""
    return ReduceFromParallel.apply(F.linear(x_cols, w_cols)) + b  # add the bias once


def megatron_mlp(x, w1_rows, b1_rows, w2_cols, b2):
    """Column-parallel → GELU on the local hidden block → row-parallel: one all-reduce."""
    hidden = F.gelu(F.linear(CopyToParallel.apply(x), w1_rows, b1_rows))
    return ReduceFromParallel.apply(F.linear(hidden, w2_cols)) + b2


# --- experiments -------------------------------------------------------------------------------


def block(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    """This process's contiguous block of ``tensor`` along ``dim`` (sizes must divide evenly)."""
    world, rank = dist.get_world_size(), dist.get_rank()
    if tensor.shape[dim] % world:
        raise ValueError(f"size {tensor.shape[dim]} along dim {dim} is not divisible by {world}")
    return tensor.chunk(world, dim=dim)[rank]


def max_error(got: torch.Tensor, expected: torch.Tensor, what: str) -> float:
    """Fail the run unless ``got`` ≈ ``expected``; return the largest absolute difference."""
    torch.testing.assert_close(got, expected, msg=lambda m: f"{what}: {m}")
    return float((got - expected).abs().max())


def timed_pass(forward, upstream: torch.Tensor, *, backward: bool = True) -> dict:
    """Run ``forward()`` (and its backward with ``upstream``) between byte counter readings."""
    CALLS.clear()
    dist.barrier()
    start = bytes_sent()
    y = forward()
    forward_bytes = sent_since(start)
    forward_calls = dict(CALLS)
    record = {"y": y, "bytes_forward": forward_bytes, "collectives_forward": forward_calls}
    if backward:
        CALLS.clear()
        dist.barrier()
        start = bytes_sent()
        y.backward(upstream)
        record["bytes_backward"] = sent_since(start)
        record["collectives_backward"] = dict(CALLS)
    return record


def leaf(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().clone().requires_grad_()


def reference_grads(module: nn.Module, x: torch.Tensor, upstream: torch.Tensor):
    """Single-process output and gradients (parameters by name, and the input)."""
    module.zero_grad(set_to_none=True)
    x = leaf(x)
    y = module(x)
    y.backward(upstream)
    return y.detach(), {name: p.grad for name, p in module.named_parameters()}, x.grad


def run_column(linear: nn.Linear, x: torch.Tensor, upstream: torch.Tensor) -> dict:
    y_ref, grads, x_grad = reference_grads(linear, x, upstream)
    w, b, x_in = leaf(block(linear.weight, 0)), leaf(block(linear.bias, 0)), leaf(x)
    record = timed_pass(lambda: column_parallel_linear(x_in, w, b), upstream)
    record["max_error"] = {
        "forward": max_error(record.pop("y").detach(), y_ref, "column forward"),
        "weight_grad": max_error(w.grad, block(grads["weight"], 0), "column ∂W"),
        "bias_grad": max_error(b.grad, block(grads["bias"], 0), "column ∂b"),
        "input_grad": max_error(x_in.grad, x_grad, "column ∂X"),
    }
    return record


def run_row(linear: nn.Linear, x: torch.Tensor, upstream: torch.Tensor) -> dict:
    y_ref, grads, x_grad = reference_grads(linear, x, upstream)
    w, b, x_cols = leaf(block(linear.weight, 1)), leaf(linear.bias), leaf(block(x, -1))
    record = timed_pass(lambda: row_parallel_linear(x_cols, w, b), upstream)
    record["max_error"] = {
        "forward": max_error(record.pop("y").detach(), y_ref, "row forward"),
        "weight_grad": max_error(w.grad, block(grads["weight"], 1), "row ∂W"),
        "bias_grad": max_error(b.grad, grads["bias"], "row ∂b"),
        "input_grad": max_error(x_cols.grad, block(x_grad, -1), "row ∂X (own columns)"),
    }
    return record


def run_megatron(mlp: nn.Sequential, x: torch.Tensor, upstream: torch.Tensor) -> dict:
    y_ref, grads, x_grad = reference_grads(mlp, x, upstream)
    first, second = mlp[0], mlp[2]
    w1, b1 = leaf(block(first.weight, 0)), leaf(block(first.bias, 0))
    w2, b2 = leaf(block(second.weight, 1)), leaf(second.bias)
    x_in = leaf(x)
    record = timed_pass(lambda: megatron_mlp(x_in, w1, b1, w2, b2), upstream)
    record["max_error"] = {
        "forward": max_error(record.pop("y").detach(), y_ref, "megatron forward"),
        "weight_grad": max(
            max_error(w1.grad, block(grads["0.weight"], 0), "megatron ∂W₁"),
            max_error(w2.grad, block(grads["2.weight"], 1), "megatron ∂W₂"),
        ),
        "bias_grad": max(
            max_error(b1.grad, block(grads["0.bias"], 0), "megatron ∂b₁"),
            max_error(b2.grad, grads["2.bias"], "megatron ∂b₂"),
        ),
        "input_grad": max_error(x_in.grad, x_grad, "megatron ∂X"),
    }
    half = x.shape[0] // 2  # the same forward on half the batch: bytes scale with the batch
    record["bytes_forward_half_batch"] = timed_pass(
        lambda: megatron_mlp(x[:half], w1, b1, w2, b2), upstream[:half], backward=False
    )["bytes_forward"]
    return record


def run_dtensor(mlp: nn.Sequential, x: torch.Tensor, upstream: torch.Tensor, device) -> dict:
    y_ref, grads, x_grad = reference_grads(mlp, x, upstream)
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    parallel = parallelize_module(
        copy.deepcopy(mlp), mesh, {"0": ColwiseParallel(), "2": RowwiseParallel()}
    )
    x_in = leaf(x)

    def forward() -> torch.Tensor:
        with CommDebugMode() as comm:
            # The all-reduce is asynchronous: the first use of the output waits for it.
            y = parallel(x_in) * 1
        CALLS.update({str(op).split(".")[-1]: n for op, n in comm.get_comm_counts().items()})
        return y

    record = timed_pass(forward, upstream, backward=False)
    CALLS.clear()
    dist.barrier()
    start = bytes_sent()
    with CommDebugMode() as comm:
        record["y"].backward(upstream)
        x_in.grad.add_(0)  # wait for any asynchronous gradient collective
    record["bytes_backward"] = sent_since(start)
    record["collectives_backward"] = {
        str(op).split(".")[-1]: n for op, n in comm.get_comm_counts().items()
    }
    errors = {"forward": max_error(record.pop("y").detach(), y_ref, "dtensor forward")}
    weight_errors, bias_errors = [], []
    for name, parameter in parallel.named_parameters():
        grad = (
            parameter.grad.full_tensor() if isinstance(parameter.grad, DTensor) else parameter.grad
        )
        bucket = weight_errors if name.endswith("weight") else bias_errors
        bucket.append(max_error(grad, grads[name], f"dtensor ∂{name}"))
        if isinstance(parameter, DTensor):
            record.setdefault("placements", {})[name] = str(parameter.placements[0])
    errors["weight_grad"], errors["bias_grad"] = max(weight_errors), max(bias_errors)
    errors["input_grad"] = max_error(x_in.grad, x_grad, "dtensor ∂X")
    record["max_error"] = errors
    return record


def merge_ranks(records: list[dict]) -> dict:
    """One record: errors as the max over processes, byte counts as a list per rank."""
    merged = {}
    for key, value in records[0].items():
        if key == "max_error":
            merged[key] = {k: max(r[key][k] for r in records) for k in value}
        elif key.startswith("bytes"):
            merged[key] = [r[key] for r in records]
        else:
            merged[key] = value
    return merged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file rank 0 writes")
    parser.add_argument("--backend", default="gloo", help="gloo (CPU) or nccl (one GPU each)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--d-in", type=int, default=96)
    parser.add_argument("--d-hidden", type=int, default=256)
    parser.add_argument("--d-out", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    COUNT_BYTES["on"] = args.backend == "gloo"
    if args.backend == "nccl":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    dist.init_process_group(args.backend)
    try:
        torch.manual_seed(args.seed)  # the same full layers and data on every process
        with torch.device(device):
            linear = nn.Linear(args.d_in, args.d_out)
            mlp = nn.Sequential(
                nn.Linear(args.d_in, args.d_hidden), nn.GELU(), nn.Linear(args.d_hidden, args.d_out)
            )
            x = torch.randn(args.batch, args.d_in)
            upstream = torch.randn(args.batch, args.d_out)  # ∂L/∂Y for L = Σ Y ⊙ upstream
        records = {
            "column": run_column(linear, x, upstream),
            "row": run_row(linear, x, upstream),
            "megatron": run_megatron(mlp, x, upstream),
            "dtensor": run_dtensor(mlp, x, upstream, device),
        }
        gathered: list[dict | None] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, records)
        if dist.get_rank() == 0:
            results = {
                "world_size": dist.get_world_size(),
                "backend": args.backend,
                "torch": torch.__version__,
                "element_size": x.element_size(),
                "shapes": {
                    "batch": args.batch,
                    "d_in": args.d_in,
                    "d_hidden": args.d_hidden,
                    "d_out": args.d_out,
                },
                **{name: merge_ranks([g[name] for g in gathered]) for name in records},
            }
            args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
        dist.barrier()  # tear down together, once rank 0 has written the file
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    faulthandler.enable()  # if a worker dies from a signal, print where each thread was
    code = main()
    # Leave without the interpreter's shutdown. On a busy machine, a few runs in a hundred
    # ended with a worker aborting ("terminate called without an active exception") after
    # the results were written, so at teardown; we did not pin down which thread (gloo's are
    # the suspects). Everything is written and the process group is gone: flush and go.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
