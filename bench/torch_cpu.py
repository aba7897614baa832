#!/usr/bin/env python3
"""PyTorch CPU fp32 baseline for bench/engine.sh: a plain GPT-2 forward (random weights of the
given shapes; speed does not depend on the values) timed like bench_engine: prefill of T tokens
in one stream, then S decoding steps of B streams with a KV cache.
Prints lines "model device threads mode B tokens seconds tok/s" (tab-separated)."""
import argparse
import math
import time

import torch
import torch.nn.functional as F

CONFIGS = {  # n_layer, n_head, n_embd, n_ctx, vocab
    "tiny": (8, 4, 256, 1024, 50257),
    "gpt2": (12, 12, 768, 1024, 50257),
    "gpt2-medium": (24, 16, 1024, 1024, 50257),
}


class GPT2:
    def __init__(self, L, H, C, T, V):
        g = torch.Generator().manual_seed(0)
        r = lambda *s: torch.randn(*s, generator=g) * 0.02
        self.L, self.H, self.C = L, H, C
        self.wte, self.wpe = r(V, C), r(T, C)
        self.layers = []
        for _ in range(L):
            self.layers.append(dict(
                ln1_w=torch.ones(C), ln1_b=torch.zeros(C),
                attn_w=r(3 * C, C), attn_b=torch.zeros(3 * C),  # F.linear layout [out, in]
                proj_w=r(C, C), proj_b=torch.zeros(C),
                ln2_w=torch.ones(C), ln2_b=torch.zeros(C),
                fc_w=r(4 * C, C), fc_b=torch.zeros(4 * C),
                fcp_w=r(C, 4 * C), fcp_b=torch.zeros(C)))
        self.lnf_w, self.lnf_b = torch.ones(C), torch.zeros(C)

    def forward(self, idx, pos0, cache):
        """idx [B, t] tokens at positions pos0..pos0+t-1; cache: list of (k, v) [B, H, pos, hd]."""
        B, t = idx.shape
        C, H = self.C, self.H
        hd = C // H
        x = self.wte[idx] + self.wpe[pos0:pos0 + t]
        for l, w in enumerate(self.layers):
            a = F.layer_norm(x, (C,), w["ln1_w"], w["ln1_b"], 1e-5)
            q, k, v = F.linear(a, w["attn_w"], w["attn_b"]).split(C, dim=2)
            q = q.view(B, t, H, hd).transpose(1, 2)
            k = k.view(B, t, H, hd).transpose(1, 2)
            v = v.view(B, t, H, hd).transpose(1, 2)
            if cache[l] is not None:
                k = torch.cat([cache[l][0], k], dim=2)
                v = torch.cat([cache[l][1], v], dim=2)
            cache[l] = (k, v)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            if t > 1:
                n = k.shape[2]
                mask = torch.ones(t, n, dtype=torch.bool).tril(diagonal=n - t)
                att = att.masked_fill(~mask, float("-inf"))
            y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, t, C)
            x = x + F.linear(y, w["proj_w"], w["proj_b"])
            a = F.layer_norm(x, (C,), w["ln2_w"], w["ln2_b"], 1e-5)
            h = F.gelu(F.linear(a, w["fc_w"], w["fc_b"]), approximate="tanh")
            x = x + F.linear(h, w["fcp_w"], w["fcp_b"])
        x = F.layer_norm(x, (C,), self.lnf_w, self.lnf_b, 1e-5)
        return F.linear(x, self.wte)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="tiny", choices=sorted(CONFIGS))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prefill", type=int, default=256)
    ap.add_argument("--steps", type=int, default=16)
    ap.add_argument("--streams", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    L, H, C, T, V = CONFIGS[a.config]
    m = GPT2(L, H, C, T, V)
    tok = torch.arange(a.prefill + a.steps) * 7919 % V
    best_p = best_s = float("inf")
    with torch.no_grad():
        for _ in range(a.reps):
            cache = [None] * L
            t0 = time.perf_counter()
            m.forward(tok[None, :a.prefill], 0, cache)
            best_p = min(best_p, time.perf_counter() - t0)
            cache = [None] * L
            m.forward(tok[None, :a.prefill].expand(a.streams, -1), 0, cache)
            t0 = time.perf_counter()
            for s in range(a.steps):
                m.forward(tok[None, a.prefill + s:a.prefill + s + 1].expand(a.streams, -1),
                          a.prefill + s, cache)
            best_s = min(best_s, time.perf_counter() - t0)
    name = "torch-cpu-" + torch.__version__
    print(f"{a.config}\t{name}\t{a.threads}\tprefill\t1\t{a.prefill}\t{best_p:.4f}\t{a.prefill / best_p:.1f}")
    if a.steps:
        n = a.steps * a.streams
        print(f"{a.config}\t{name}\t{a.threads}\tstep\t{a.streams}\t{n}\t{best_s:.4f}\t{n / best_s:.1f}")


if __name__ == "__main__":
    main()
