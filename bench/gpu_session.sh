#!/usr/bin/env bash
# Everything measured on a lent GPU machine, in one call (the device tool runs it in the
# repo's root and brings back what lands in $OUT). Installs nothing. The data travels
# compressed in the ignored folder .gpudata/ (made on the CPU side with
#   (cd ../shared/data && tar cf - MNIST/raw FashionMNIST/raw | xz -6 -T2) > .gpudata/data.tar.xz
# ) and is unpacked here into $MNIST_STUDIO_DATA.
#   bash bench/gpu_session.sh [part ...]   parts: tests speedrun recipes levers throughput first
set -u
export PYTHONUNBUFFERED=1 OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT" /tmp/data
export MNIST_STUDIO_DATA=/tmp/data
export MNIST_STUDIO_CUDA_GRAPHS="${MNIST_STUDIO_CUDA_GRAPHS:-on}"  # the graph step is what is measured
[ -f /tmp/data/MNIST/raw/t10k-labels-idx1-ubyte ] || tar xJf .gpudata/data.tar.xz -C /tmp/data
parts="${*:-tests recipes speedrun first throughput levers}"
{ nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)"; } > "$OUT/machine.txt" 2>&1
run() {  # run NAME SECONDS CMD...: one benchmark, bounded, its output appended to $OUT/NAME.txt
  local name=$1 limit=$2; shift 2
  echo "\$ $*" >> "$OUT/$name.txt"
  timeout "$limit" "$@" >> "$OUT/$name.txt" 2>&1; echo "exit $?" >> "$OUT/$name.txt"
}
for part in $parts; do
  case $part in
    tests) run tests 90 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_step.py
      # A broken graph step would spoil every number after it: measure the eager step then.
      if grep -q "FAILED tests/test_cuda.py::test_the_graph_step" "$OUT/tests.txt"; then
        export MNIST_STUDIO_CUDA_GRAPHS=off; echo "CUDA graphs turned off for the rest" >> "$OUT/tests.txt"
      fi ;;
    speedrun)  # with the recipes the sweep's rule picked, when it ran first; else the committed ones
      from=""; [ -s "$OUT/recipes.txt" ] && from="--recipe-from $OUT/recipes.txt"
      run speedrun 90 python3 -m bench.speedrun --dataset mnist --device cuda $from
      run speedrun 120 python3 -m bench.speedrun --dataset fashion --device cuda $from ;;
    recipes)
      run recipes 60 python3 -m bench.gpu_recipes --dataset mnist
      run recipes 150 python3 -m bench.gpu_recipes --dataset fashion --seeds 2 ;;
    levers) run levers 100 python3 -m bench.gpu_levers --models fastcnn resnet cnn fastcnn-wide ffnn --steps 60 ;;
    throughput)
      for m in cnn fastcnn resnet; do
        run throughput 45 python3 -m bench.throughput --model "$m" --device cuda --seconds 3
      done ;;
    first) run first 90 python3 -m bench.first_point --device cuda --repeats 2 ;;
  esac
done
tail -n 3 "$OUT"/*.txt
