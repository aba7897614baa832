#!/usr/bin/env python3
"""PyTorch baseline for the GPU: GPT2LMHeadModel in fp32 (TF32 off), random weights.

    python3 bench/torch_gpu.py [--config gpt2|tiny] [--batch 16] [--tokens 1024] [--reps 3]

Prints prefill tokens/s (B x T tokens per forward, logits included) and KV-cache step
tokens/s (B streams, one token each per step), one line per measurement."""
import argparse
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="gpt2", choices=["gpt2", "tiny"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=64)
    a = ap.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    torch.manual_seed(0)
    if a.config == "gpt2":
        cfg = GPT2Config()  # 12 layers, 768 wide, 12 heads, n_ctx 1024, vocab 50257
    else:  # lac-tiny's shapes
        cfg = GPT2Config(n_layer=8, n_embd=256, n_head=4)
    model = GPT2LMHeadModel(cfg).to("cuda", torch.float32).eval()
    B, T = a.batch, a.tokens
    ids = torch.randint(0, cfg.vocab_size, (B, T), device="cuda")
    name = torch.cuda.get_device_name(0)

    with torch.inference_mode():
        model(ids)  # warm-up
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.reps):
            model(ids)
        torch.cuda.synchronize()
        dt = (time.perf_counter() - t0) / a.reps
        print(f"torch {a.config} fp32 prefill device={name} B={B} T={T}: "
              f"{dt * 1e3:.1f} ms/forward, {B * T / dt:.0f} tokens/s")

        # KV-cache steps: prefill T/2 tokens, then `steps` single-token steps per stream.
        half = ids[:, : T // 2]
        out = model(half, use_cache=True)
        past = out.past_key_values
        nxt = ids[:, T // 2 : T // 2 + 1]
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            out = model(nxt, past_key_values=past, use_cache=True)
            past = out.past_key_values
        torch.cuda.synchronize()
        dt = (time.perf_counter() - t0) / a.steps
        print(f"torch {a.config} fp32 steps device={name} B={B} from position {T // 2}: "
              f"{dt * 1e3:.2f} ms/step, {B / dt:.0f} tokens/s")


if __name__ == "__main__":
    main()
