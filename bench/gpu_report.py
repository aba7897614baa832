#!/usr/bin/env python3
"""The issue's GPU goals as one markdown table, from the files bench/gpu_check.sh leaves in $OUT.

    python3 bench/gpu_report.py OUT_DIR            (prints markdown; gpu_check.sh runs it last)

Reads matmul.txt (bench_cuda_matmul), codec.txt (bench_cuda_codec key=value lines), torch.txt
(bench/torch_gpu.py) and summary.txt. Every ratio is between numbers measured in the same run
on the same GPU. A missing input gives 'n/a', never a made-up number."""
import os
import re
import sys


def read(out, name):
    try:
        with open(os.path.join(out, name), encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def matmul_rows(text):
    """(M, K, N, r_chosen, r_best, bitwise) per line of the bench table."""
    rows = []
    for line in text.splitlines():
        f = line.split()
        if len(f) >= 6 and f[0].isdigit() and f[1].isdigit() and f[2].isdigit():
            try:
                rows.append((int(f[0]), int(f[1]), int(f[2]), float(f[-3]), float(f[-2]), f[-1]))
            except ValueError:
                pass
    return rows


def codec_runs(text):
    runs = []
    for line in text.splitlines():
        if not line.startswith("model="):
            continue
        kv = dict(re.findall(r'(\w[\w/]*)=("[^"]*"|\S+)', line))
        runs.append({k: v.strip('"') for k, v in kv.items()})
    return runs


def torch_prefill(text):
    """config -> prefill tokens/s"""
    res = {}
    for m in re.finditer(r"^torch (\S+) fp32 prefill .*?([0-9.]+) tokens/s", text, re.M):
        res[m.group(1)] = float(m.group(2))
    return res


def fmt(x, digits=0):
    return "n/a" if x is None else f"{x:,.{digits}f}"


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    summary = read(out, "summary.txt")
    gpu = re.search(r"^gpu: (.*)$", summary, re.M)
    print(f"## GPU goals — {gpu.group(1).strip() if gpu and gpu.group(1).strip() else 'unknown GPU'}\n")

    mm = [r for r in matmul_rows(read(out, "matmul.txt")) if r[0] == 16384]
    print("Matmul, M = 16384 (goal: at least 0.80 of cuBLAS SGEMM, TF32 off)\n")
    print("| K | N | heuristic's kernel / cuBLAS | best kernel / cuBLAS | bitwise |")
    print("|---|---|---|---|---|")
    for _, k, n, rc, rb, ok in mm:
        print(f"| {k} | {n} | {rc:.2f} | {rb:.2f} | {ok} |")
    if not mm:
        print("| n/a | | | | |")

    runs = codec_runs(read(out, "codec.txt"))
    torch = torch_prefill(read(out, "torch.txt"))
    print("\nCodec (compression: 16 blocks per call; decompression: blocks in lock-step)\n")
    print("| model | device | graphs | streams | blocks | dstreams | compress tok/s | decompress tok/s | "
          "decompress / compress (goal >= 0.5) | PyTorch prefill tok/s | compress / PyTorch (goal >= 1.0) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        model = r.get("model", "?")
        c = float(r["compress_tok/s"]) if "compress_tok/s" in r else None
        d = float(r["decompress_tok/s"]) if "decompress_tok/s" in r else None
        cfg = "tiny" if model == "lac-tiny" else "gpt2" if "gpt2" in model else None
        t = torch.get(cfg) if cfg else None
        cuda = r.get("device", "").startswith("cuda")
        print(f"| {model} | {r.get('device', '?')} | {r.get('graphs', '?')} | {r.get('streams', '?')} "
              f"| {r.get('blocks', '?')} | {r.get('dstreams', '?')} "
              f"| {fmt(c)} | {fmt(d)} | {fmt(d / c if c and d else None, 2)} "
              f"| {fmt(t) if cuda else ''} | {fmt(c / t if (c and t and cuda) else None, 2) if cuda else ''} |")
    if not runs:
        print("| n/a | | | | | | | | | | |")
    cant = re.search(r"^canterbury across devices: (.*)$", summary, re.M)
    tests = re.findall(r"^(test_cuda|cuda_matmul_check|compute-sanitizer \w+): (.*)$", summary, re.M)
    print()
    for name, res in tests:
        print(f"- {name}: {res}")
    print(f"- Canterbury across devices: {cant.group(1) if cant else 'n/a'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
