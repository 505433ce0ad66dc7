"""Benchmarks (each prints its numbers: `python -m bench.<name> --help`) and the tools
that drive the real app for them, the browser tests and the screenshots.

Training:   throughput, speedrun, levers, autocast, first_point, stop_latency,
            reference_loop (the notebooks' loop, for comparison), anchor (the GPU yardstick),
            gpu_levers, gpu_recipes; gpu_session.sh: every GPU measurement in one call
The app:    app_latency (cold start, stroke to prediction), stroke_parts (where a stroke's
            time goes, checkouts side by side), classify_reruns (what each of Classify's
            reruns costs the server), evaluate_first_visit, attack_speed,
            fool_budget (the budget Fool it opens on), storage_cost, neighbours (a
            nearest-training-images query), model_paths (eager, TorchScript or ONNX
            Runtime for a stroke's model pass), web_memory (what the web process's memory
            holds)
Load:       loadtest (the run system, many visitors), serverload (the real server over its
            websocket), with loadcheck (what they measure), protocol (a Streamlit client
            without a browser), strokes (drawings as the canvas sends them) and proxy
            (a sticky nginx in front of several app processes);
            speed_session.sh: Classify's before/after measurements (stroke_parts,
            serverload) in one call
Drivers:    appserver (the real app on 127.0.0.1), browser (headless Chromium), fakedata
            (tiny IDX datasets), procs (processes through /proc)
"""
