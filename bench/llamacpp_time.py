#!/usr/bin/env python3
"""llamacpp_time.py - prompt and decode speed of llama.cpp (through the
llama-cpp-python bindings) measured the way `tinfer bench` measures:
ppN = N tokens evaluated as one batch into an empty context, tgN = N tokens
evaluated one at a time into an empty context; one warm-up run, then REPS
runs; prints one CSV line per test: test,n_tokens,tps_median,tps_stddev.

Used by bench/compare_llamacpp.sh inside its throwaway venv.

    llamacpp_time.py MODEL.gguf THREADS PROMPT DECODE REPS
"""
import statistics
import sys
import time


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    path = sys.argv[1]
    threads, n_pp, n_tg, reps = (int(x) for x in sys.argv[2:])
    from llama_cpp import Llama  # imported late: --help works without it

    llm = Llama(model_path=path, n_ctx=max(n_pp, n_tg) + 16, n_batch=max(n_pp, 1),
                n_threads=threads, n_threads_batch=threads, verbose=False)
    n_vocab = llm.n_vocab()
    seed, toks = 0x2545F4914F6CDD1D, []
    mask = (1 << 64) - 1
    for _ in range(max(n_pp, n_tg)):  # same generator as tinfer bench
        seed ^= (seed << 13) & mask
        seed ^= seed >> 7
        seed ^= (seed << 17) & mask
        toks.append(seed % n_vocab)
    if llm.token_bos() >= 0:
        toks[0] = llm.token_bos()

    def run(n, decode):
        llm.reset()
        t0 = time.perf_counter()
        if decode:
            for t in toks[:n]:
                llm.eval([t])
        else:
            llm.eval(toks[:n])
        return n / (time.perf_counter() - t0)

    for name, n, decode in (("pp", n_pp, False), ("tg", n_tg, True)):
        if n <= 0:
            continue
        run(n, decode)  # warm-up
        tps = [run(n, decode) for _ in range(reps)]
        sd = statistics.stdev(tps) if reps > 1 else 0.0
        print(f"{name}{n},{n},{statistics.median(tps):.4f},{sd:.4f}", flush=True)


if __name__ == "__main__":
    main()
